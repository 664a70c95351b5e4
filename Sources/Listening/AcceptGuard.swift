// What every TCP listener of nat64d (DNS over TCP, the inbound proxy, /metrics, the control socket) puts on
// its server channel.
//
// NIO's classic `ServerBootstrap` keeps calling accept(2) while the socket is readable. When the process is
// out of file descriptors (EMFILE/ENFILE) every call fails at once and the listener spins at 100 % of a core
// for as long as the shortage lasts. `AcceptGuardHandler` pauses accepting for a second after such an error,
// counts every failed accept and logs once per interval, so an operator learns of the shortage without a log
// line per failure. UDP sockets and the packet threads hold their descriptors already and keep working;
// accepting resumes by itself once descriptors are free.
//
// Why not NIO's own `AcceptBackoffHandler`: it pauses by withholding the next `read()`, and NIO takes a
// listener off epoll only when no read is pending; the pending flag is cleared by a successful accept only.
// When the first accept of a wake-up fails, the read stays pending, the listener stays on (level-triggered)
// epoll and is woken again at once: the hostile suite counted 189,864 failed accepts in about ten seconds of
// exhaustion with it. Turning `autoRead` off takes the listener off epoll whatever NIO's read state is, and
// turning it back on after the pause re-arms it.
import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

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

/// Whether `errno` says this process or host ran short (descriptors, buffers, memory), so the next socket call
/// would fail too whoever is at the other end: a failed accept pauses its listener, and a backend whose socket
/// could not even be made is not blamed for it. A connection aborted before it was accepted (ECONNABORTED) is
/// the client's affair.
public func isResourceShortage(_ errno: CInt) -> Bool {
    errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM
}

/// Counts, logs and pauses on accept errors of a server channel (see the file header).
final class AcceptGuardHandler: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel
    private let listener: String
    private let errors: AcceptErrors
    private let logger: Logger
    private let interval: UInt64
    private let pause: TimeAmount
    /// True from a pausing error until accepting resumes.
    private(set) var paused = false

    init(listener: String, errors: AcceptErrors, logger: Logger, interval: TimeAmount, pause: TimeAmount) {
        self.listener = listener
        self.errors = errors
        self.logger = logger
        self.interval = UInt64(max(0, interval.nanoseconds))
        self.pause = pause
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let pauses = (error as? IOError).map { isResourceShortage($0.errnoCode) } ?? false
        if errors.record(now: NIODeadline.now().uptimeNanoseconds, interval: interval) {
            logger.error(pauses ? "accepting connections failed; pausing this listener" : "accepting connections failed",
                metadata: [
                    "listener": "\(listener)", "error": "\(error)", "failures": "\(errors.count)",
                    "pause": "\(pauses ? pause : .zero)",
                    "fix": "raise LimitNOFILE= (systemd) or lower the connection limits; logged at most once a minute"])
        }
        if pauses && !paused {
            paused = true
            try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
            context.eventLoop.assumeIsolated().scheduleTask(in: pause) {
                self.paused = false
                try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            }
        }
        context.fireErrorCaught(error)
    }
}

extension ServerBootstrap {
    /// Installs the accept guard on the server channel (see the file header).
    ///
    /// - Parameters:
    ///   - listener: names the listener in the log line, e.g. `dns64 [::1]:53`.
    ///   - errors: where failures are counted.
    ///   - logger: where the once-per-interval line goes.
    ///   - interval: the least time between two log lines.
    ///   - pause: how long a listener stops accepting after a shortage.
    public func guardingAccept(
        listener: String, errors: AcceptErrors, logger: Logger, interval: TimeAmount = .seconds(60),
        pause: TimeAmount = .seconds(1)
    ) -> ServerBootstrap {
        serverChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                try sync.addHandler(
                    AcceptGuardHandler(
                        listener: listener, errors: errors, logger: logger, interval: interval, pause: pause))
            }
        }
    }
}
