// A log level that a reload changes for every logger at once: swift-log fixes a handler's level when the
// logger is made, so the daemon's handler reads it from one shared atomic instead.
import Logging
import Synchronization

/// The daemon's log level, shared by every logger it made.
final class LiveLogLevel: Sendable {
    private let raw: Atomic<Int>

    init(_ level: Logger.Level) { raw = Atomic(Self.index(level)) }

    var level: Logger.Level {
        get { Logger.Level.allCases[raw.load(ordering: .relaxed)] }
        set { raw.store(Self.index(newValue), ordering: .relaxed) }
    }

    private static func index(_ level: Logger.Level) -> Int { Logger.Level.allCases.firstIndex(of: level) ?? 2 }
}

/// Standard error, with the level of a `LiveLogLevel`.
struct LiveLevelLogHandler: LogHandler {
    private var stream: StreamLogHandler
    let live: LiveLogLevel

    init(label: String, live: LiveLogLevel) {
        stream = StreamLogHandler.standardError(label: label)
        stream.logLevel = .trace  // the live level filters; `Logger` asks `logLevel` below first
        self.live = live
    }

    var logLevel: Logger.Level {
        get { live.level }
        set { live.level = newValue }
    }

    var metadata: Logger.Metadata {
        get { stream.metadata }
        set { stream.metadata = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { stream.metadataProvider }
        set { stream.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { stream[metadataKey: key] }
        set { stream[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) { stream.log(event: event) }
}
