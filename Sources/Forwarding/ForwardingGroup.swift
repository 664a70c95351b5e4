// All packet threads of the daemon (one per TUN queue), seen from the control side as one: counters are
// added up, a mapping dump walks each thread's table in slices, capture starts and stops on every queue.
import NAT64Translator
import PacketCapture
import Synchronization

/// The packet threads of one TUN device.
public final class ForwardingGroup<Device: PacketDevice & ~Copyable>: Sendable {
    /// One thread per queue, in queue order.
    public let threads: [ForwardingThread<Device>]

    private let capture: Mutex<SharedCapture?>

    /// - Parameters:
    ///   - threads: the packet threads, one per queue.
    ///   - capture: the capture the threads were created with (`[capture] enabled`), so `stopCapture` closes it.
    public init(threads: [ForwardingThread<Device>], capture: SharedCapture? = nil) {
        precondition(!threads.isEmpty)
        self.threads = threads
        self.capture = Mutex(capture)
    }

    /// Why a capture could not start.
    public enum CaptureRefusal: Error, Equatable, Sendable {
        /// Another capture runs (its directory).
        case alreadyRunning(String)
        /// A packet thread did not answer in time.
        case timedOut
    }

    /// Starts recording into `shared` on every queue.
    public func startCapture(_ shared: SharedCapture) -> Result<CaptureStatus, CaptureRefusal> {
        let running = capture.withLock { current -> SharedCapture? in
            if let current { return current }
            current = shared
            return nil
        }
        if let running {
            shared.close()
            return .failure(.alreadyRunning(running.status.settings.directory))
        }
        for thread in threads {
            guard let reply = thread.ask(.startCapture(shared)), reply.accepted else {
                _ = stopCapture()
                return .failure(.timedOut)
            }
        }
        return .success(shared.status)
    }

    /// Stops the running capture on every queue and closes its files.
    /// - Returns: its final status, or nil when no capture was running.
    public func stopCapture() -> CaptureStatus? {
        guard let shared = capture.withLock({ current -> SharedCapture? in
            defer { current = nil }
            return current
        }) else { return nil }
        for thread in threads { _ = thread.ask(.stopCapture) }
        shared.close()
        return shared.status
    }

    /// The running capture's status.
    public var captureStatus: CaptureStatus? { capture.withLock { $0?.status } }

    /// Starts every thread; on a failure, stops those already started.
    public func start() throws(DeviceError) {
        for (i, thread) in threads.enumerated() {
            do { try thread.start() } catch {
                for started in threads[..<i] { started.stop() }
                throw error
            }
        }
    }

    /// Stops every thread (and waits for them), then closes a running capture.
    public func stop() {
        for thread in threads { thread.stop() }
        capture.withLock { $0?.close(); $0 = nil }
    }

    /// The published counters, added up over the queues.
    public var stats: ForwarderStats {
        var total = ForwarderStats()
        for thread in threads { total.add(thread.stats) }
        return total
    }

    /// Each queue's published counters.
    public var perQueue: [ForwarderStats] { threads.map(\.stats) }

    /// The first device failure that ended a thread, if any.
    public var failure: DeviceError? { threads.lazy.compactMap(\.failure).first }

    /// Fresh counters from every thread (each answers between two batches).
    /// - Returns: the per-queue replies, or nil if a thread did not answer in time.
    public func snapshot(timeoutSeconds: Double = 2) -> [ForwardingThread<Device>.Reply]? {
        var replies: [ForwardingThread<Device>.Reply] = []
        for thread in threads {
            guard let r = thread.ask(.snapshot, timeoutSeconds: timeoutSeconds) else { return nil }
            replies.append(r)
        }
        return replies
    }

    /// Every mapping, walked in slices of `slice` table slots per request so the packet thread never stops for
    /// longer than one slice; `limit` bounds what is collected. Every queue's translator shares one state table,
    /// so the first thread answers for all (asking each would list every mapping once per queue).
    /// - Returns: the mappings with the clock of the thread that reported them, or nil on a timeout.
    public func bindings(slice: Int = 16_384, limit: Int = .max) -> (bindings: [Binding], now: Nanoseconds)? {
        var out: [Binding] = []
        var now: Nanoseconds = 0
        var from: Int? = 0
        while let start = from, out.count < limit {
            guard let r = threads[0].ask(.bindings(from: start, limit: slice)) else { return nil }
            out += r.bindings.prefix(limit - out.count)
            now = max(now, r.now)
            from = r.next
        }
        return (out, now)
    }

    /// Who holds pool4 `address` and `port` now (one table is shared by every queue, so the first answers).
    /// - Returns: nil when the packet thread did not answer in time.
    public func who(_ address: IPv4Address, port: UInt16) -> [PortHolder]? {
        threads[0].ask(.who(address, port)).map(\.holders)
    }

    /// The configured port forwards (S13) and whether each is installed (one shared table: the first answers).
    /// - Returns: nil when the packet thread did not answer in time.
    public func forwards() -> [PortForwardStatus]? {
        threads[0].ask(.forwards).map(\.forwards)
    }

    /// Hands the live-changeable settings of `configuration` to every packet thread (between two batches);
    /// the shared state table, its sessions and their ports stay.
    /// - Returns: false if a thread did not answer in time (its request was withdrawn, or answered too late).
    public func reconfigure(_ configuration: TranslatorConfiguration, timeoutSeconds: Double = 2) -> Bool {
        threads.reduce(true) { ok, thread in
            thread.ask(.reconfigure(configuration), timeoutSeconds: timeoutSeconds) != nil && ok
        }
    }
}
