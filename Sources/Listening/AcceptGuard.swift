// What every TCP listener of nat64d (DNS over TCP, the inbound proxy, /metrics) puts on its server channel.
//
// NIO's classic `ServerBootstrap` keeps calling accept(2) while the socket is readable. When the process is
// out of file descriptors (EMFILE/ENFILE) every call fails at once and the listener spins at 100 % of a core
// for as long as the shortage lasts. `AcceptBackoffHandler` (NIO's own) pauses accepting for a second after
// such an error; `AcceptErrorReporter` behind it counts every failed accept and logs once per interval, so an
// operator learns of the shortage without a log line per failure. UDP sockets and the packet threads hold
// their descriptors already and keep working; accepting resumes by itself once descriptors are free.
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Failed accepts of one listener, shared with whoever reports them (counters, metrics).
public final class AcceptErrors: Sendable {
    private let failures = Atomic<Int>(0)
    /// `NIODeadline.uptimeNanoseconds` of the last log line, 0 before the first.
    private let lastLogged = Atomic<UInt64>(0)

    public init() {}

    /// Accepts that failed (descriptors exhausted, or another error of accept(2)).
    public var count: Int { failures.load(ordering: .relaxed) }

    /// Counts one failure; true when it should be logged (the first, then at most one per `interval`).
    public func record(now: UInt64, interval: UInt64) -> Bool {
        failures.add(1, ordering: .relaxed)
        let last = lastLogged.load(ordering: .relaxed)
        guard last == 0 || now &- last >= interval else { return false }
        return lastLogged.compareExchange(expected: last, desired: max(now, 1), ordering: .relaxed).exchanged
    }
}

/// Counts and logs accept errors on a server channel (see the file header). Sits behind NIO's
/// `AcceptBackoffHandler`, which does the pausing.
final class AcceptErrorReporter: ChannelInboundHandler {
    typealias InboundIn = any Channel

    private let listener: String
    private let errors: AcceptErrors
    private let logger: Logger
    private let interval: UInt64

    init(listener: String, errors: AcceptErrors, logger: Logger, interval: TimeAmount) {
        self.listener = listener
        self.errors = errors
        self.logger = logger
        self.interval = UInt64(max(0, interval.nanoseconds))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if errors.record(now: NIODeadline.now().uptimeNanoseconds, interval: interval) {
            logger.error("accepting connections failed; pausing this listener for a second", metadata: [
                "listener": "\(listener)", "error": "\(error)", "failures": "\(errors.count)",
                "fix": "raise LimitNOFILE= (systemd) or lower the connection limits; logged at most once a minute"])
        }
        context.fireErrorCaught(error)
    }
}

extension ServerBootstrap {
    /// Installs NIO's accept back-off and the error reporter on the server channel (see the file header).
    ///
    /// - Parameters:
    ///   - listener: names the listener in the log line, e.g. `dns64 [::1]:53`.
    ///   - errors: where failures are counted.
    ///   - logger: where the once-per-interval line goes.
    ///   - interval: the least time between two log lines.
    public func guardingAccept(
        listener: String, errors: AcceptErrors, logger: Logger, interval: TimeAmount = .seconds(60)
    ) -> ServerBootstrap {
        serverChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                try sync.addHandler(AcceptBackoffHandler())
                try sync.addHandler(
                    AcceptErrorReporter(listener: listener, errors: errors, logger: logger, interval: interval))
            }
        }
    }
}
