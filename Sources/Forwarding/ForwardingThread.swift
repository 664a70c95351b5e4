// One packet thread: owns a device (a TUN queue) and a `ForwardingEngine`, and runs the engine on a dedicated
// thread with the monotonic clock. Everything else reaches the thread through a mailbox: the control side posts
// one request, wakes the thread through an eventfd, and the thread answers between batches with a copy of what
// was asked (counters, a bounded slice of the mappings, the capture status). Captures are handed over the same
// way, so the translator is only ever touched by this thread (capture files, shared by the queues, are written
// under their own lock: `SharedCapture`).
//
// Capture costs nothing while off: batches are drained by the engine specialised for `NoCapture`, whose hooks
// are empty; only when a recorder is installed does the one specialised for `CaptureRecorder` run.
import Dispatch
import NAT64Translator
import PacketCapture
import Synchronization
import TunDevice
#if canImport(Glibc)
import Glibc
#endif

/// Monotonic nanoseconds (CLOCK_MONOTONIC): the packet threads' clock.
public func monotonicNanoseconds() -> Nanoseconds {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Nanoseconds(ts.tv_sec) * 1_000_000_000 + Nanoseconds(ts.tv_nsec)
}

/// What the control side can read about one packet thread (or, added up, about all of them).
public struct ForwarderStats: Sendable, Equatable {
    public var counters = TranslatorCounters()
    /// Live sessions.
    public var sessions = 0
    /// The device's I/O counters.
    public var device = DeviceCounters()
    /// The engine's counters (packets, batches, housekeeping).
    public var engine = EngineStats()
    /// Pool assignments not persisted because the event ring was full.
    public var eventsDropped: UInt64 = 0
    /// Acquisitions of the shared state table's lock that had to wait (one table for every queue).
    public var tableLockContended: UInt64 = 0
    /// Half-open or closing TCP sessions evicted to admit new flows into a full table (early drop).
    public var transitoryEvictions = 0
    /// UDP/ICMP sessions evicted for their pool4 port (S11 early drop), by reason.
    public var sessionEvictions = SessionEvictionCounts()
    /// Port block counters of the shared table.
    public var portBlocks = PortBlockCounters()
    /// Refusals per outbound policy rule of the shared table.
    public var policyRefusals: [UInt64] = []
    /// Port forwards (S13) configured, and those waiting for their port, in the shared table.
    public var forwards = 0
    public var forwardsWaiting = 0

    public init() {}

    public var readErrors: UInt64 { device.readErrors }
    public var writeErrors: UInt64 { device.writeErrors }
    public var badOffloadHeaders: UInt64 { device.badOffloadHeaders }

    /// Adds `other` (several queues into one total).
    public mutating func add(_ other: ForwarderStats) {
        counters.add(other.counters)
        sessions = max(sessions, other.sessions)  // the shared table's count, reported by every queue
        device.add(other.device)
        engine.add(other.engine)
        // One ring and one table shared by every queue: the same figure, not a sum.
        eventsDropped = max(eventsDropped, other.eventsDropped)
        tableLockContended = max(tableLockContended, other.tableLockContended)
        transitoryEvictions = max(transitoryEvictions, other.transitoryEvictions)
        sessionEvictions.merge(other.sessionEvictions)
        forwards = max(forwards, other.forwards)  // the shared table's figures, as for sessions
        forwardsWaiting = max(forwardsWaiting, other.forwardsWaiting)
        if other.portBlocks.assigned >= portBlocks.assigned { portBlocks = other.portBlocks }
        if policyRefusals.reduce(0, &+) <= other.policyRefusals.reduce(0, &+) { policyRefusals = other.policyRefusals }
    }
}

/// Owns one device and one engine, and runs the engine on a dedicated thread.
public final class ForwardingThread<Device: PacketDevice & ~Copyable>: @unchecked Sendable {
    // @unchecked: `parts` and `initialCapture` are handed to the packet thread at start and touched only by it;
    // every other member is synchronised (Atomic, Mutex, semaphore, eventfd).

    /// The engine and its device, owned by the packet thread once it runs.
    private struct Parts: ~Copyable {
        var engine: ForwardingEngine
        var device: Device
    }

    /// A question for the packet thread.
    public enum Request: Sendable {
        /// Fresh counters and the capture status.
        case snapshot
        /// Fresh counters and the mappings in table slots `from ..< from + limit`.
        case bindings(from: Int, limit: Int)
        /// Record into this capture (refused while another one runs).
        case startCapture(SharedCapture)
        /// Close the running recorder; the reply carries its final status.
        case stopCapture
        /// Who holds this pool4 address and port now (`ctl who`).
        case who(IPv4Address, UInt16)
        /// The configured port forwards and whether each is installed (`ctl bib`, S13).
        case forwards
        /// Take the live-changeable settings of this configuration (a reload: `Translator.reconfigure`).
        case reconfigure(TranslatorConfiguration)
    }

    /// The packet thread's answer.
    public struct Reply: Sendable {
        public var stats: ForwarderStats
        /// The running capture, or for `stopCapture` the one just stopped.
        public var capture: CaptureStatus?
        /// The mappings of the requested slice (`bindings`).
        public var bindings: [Binding] = []
        /// Where the next slice starts; nil when the table has been walked.
        public var next: Int?
        /// The packet thread's clock when it answered (for idle times).
        public var now: Nanoseconds
        /// False when a `startCapture` was refused.
        public var accepted = true
        /// The holders asked for by `who`.
        public var holders: [PortHolder] = []
        /// The port forwards, for `forwards`.
        public var forwards: [PortForwardStatus] = []
    }

    private struct Mailbox {
        var request: (id: UInt64, request: Request)?
        var reply: (id: UInt64, reply: Reply)?
    }

    /// The queue number (for logs and per-queue counters).
    public let index: Int
    private var parts: Parts?
    private var initialCapture: SharedCapture?
    private let stopRequested = Atomic<Bool>(false)
    private let published = Mutex(ForwarderStats())
    private let failureBox = Mutex<DeviceError?>(nil)
    private var thread: DedicatedThread?
    private let onFailure: @Sendable (DeviceError) -> Void
    private let events: EventRing<PoolAssignment>?

    private let requestPending = Atomic<Bool>(false)
    private let mailbox = Mutex(Mailbox())
    private let answered = DispatchSemaphore(value: 0)
    private let nextRequestID = Atomic<UInt64>(1)
    /// Wakes the packet thread out of its poll when a request is posted.
    private let wakeEvent: WakeEvent?

    /// - Parameters:
    ///   - index: the queue number.
    ///   - engine: the engine this thread owns from now on.
    ///   - device: its device.
    ///   - capture: a recorder to run from the start (`[capture] enabled`).
    ///   - events: the ring the translator's pool assignments go to (drained by a writer thread), if any.
    ///   - onFailure: called once, on the packet thread, when the device fails and the loop ends.
    public init(index: Int = 0, engine: consuming ForwardingEngine, device: consuming Device,
                capture: SharedCapture? = nil, events: EventRing<PoolAssignment>? = nil,
                onFailure: @escaping @Sendable (DeviceError) -> Void = { _ in }) {
        self.index = index
        if let events {
            engine.translator.table.onPoolAssignment = { events.push($0) }
        }
        parts = Parts(engine: engine, device: device)
        initialCapture = capture
        self.events = events
        self.onFailure = onFailure
        // Without an eventfd (descriptors exhausted), requests still get their answer within the poll timeout.
        wakeEvent = try? WakeEvent()
    }

    /// The counters as of the last housekeeping pass (once a second) or the last answered request.
    public var stats: ForwarderStats { published.withLock { $0 } }

    /// The device failure that ended the loop, if one did.
    public var failure: DeviceError? { failureBox.withLock { $0 } }

    /// Starts the packet thread.
    public func start() throws(DeviceError) {
        do throws(SystemError) {
            thread = try DedicatedThread(name: "nat64d-queue\(index)") { self.loop() }
        } catch {
            throw DeviceError(code: error.code, message: "\(error)")
        }
    }

    /// Asks the loop to stop and waits for the thread.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        wake()
        thread?.join()
        thread = nil
    }

    private func wake() { wakeEvent?.signal() }

    /// Posts `request` to the packet thread and waits for its answer.
    ///
    /// One caller at a time per thread. A request that times out is withdrawn; a late answer to it is
    /// recognised by its id and ignored.
    /// - Returns: the reply, or nil when the packet thread did not answer within `timeoutSeconds`.
    public func ask(_ request: Request, timeoutSeconds: Double = 2) -> Reply? {
        let id = nextRequestID.wrappingAdd(1, ordering: .relaxed).oldValue
        mailbox.withLock { $0.request = (id, request) }
        requestPending.store(true, ordering: .releasing)
        wake()
        let deadline = DispatchTime.now() + timeoutSeconds
        while answered.wait(timeout: deadline) == .success {
            let reply = mailbox.withLock { m -> Reply? in
                guard let r = m.reply, r.id == id else { return nil }
                m.reply = nil
                return r.reply
            }
            if let reply { return reply }
        }
        mailbox.withLock { if $0.request?.id == id { $0.request = nil } }
        return nil
    }

    // MARK: The packet thread

    /// Batches drained per wake-up before requests and housekeeping get their turn.
    static var batchesPerWake: Int { 4 }

    private func loop() {
        guard var p = parts.take() else { return }
        var capture = initialCapture?.tap()
        initialCapture = nil
        p.engine.housekeepingIfDue(&p.device, tap: NoCapture(), now: monotonicNanoseconds())
        while !stopRequested.load(ordering: .acquiring) {
            do throws(DeviceError) {
                switch p.device.waitReadable(timeoutMilliseconds: 200, wakeDescriptor: wakeEvent?.fd ?? -1) {
                case .readable:
                    if let capture { try drain(&p, tap: capture) } else { try drain(&p, tap: NoCapture()) }
                case .woken:
                    wakeEvent?.reset()
                case .timedOut:
                    break
                case .failed(let error):
                    throw error
                }
            } catch {
                failureBox.withLock { $0 = error }
                publish(p)
                onFailure(error)
                return
            }
            if requestPending.load(ordering: .acquiring) {
                answer(&capture, parts: &p)
            }
            let now = monotonicNanoseconds()
            let ran = if let capture {
                p.engine.housekeepingIfDue(&p.device, tap: capture, now: now)
            } else {
                p.engine.housekeepingIfDue(&p.device, tap: NoCapture(), now: now)
            }
            if ran { publish(p) }
        }
        publish(p)
    }

    @inline(__always)
    private func drain<Tap: PacketTap>(_ p: inout Parts, tap: Tap) throws(DeviceError) {
        for _ in 0..<Self.batchesPerWake {
            let n = try p.engine.forwardBatch(&p.device, tap: tap, now: monotonicNanoseconds())
            if n < p.engine.batchCapacity { return }
        }
    }

    private func currentStats(_ p: borrowing Parts) -> ForwarderStats {
        var s = ForwarderStats()
        s.counters = p.engine.translator.counters
        s.sessions = p.engine.translator.table.count
        s.forwards = p.engine.translator.configuration.state.mode == .napt
            ? p.engine.translator.configuration.state.forwards.count : 0
        s.forwardsWaiting = p.engine.translator.table.forwardsWaiting
        s.device = p.device.counters
        s.engine = p.engine.stats
        s.eventsDropped = events?.dropped ?? 0
        s.tableLockContended = p.engine.translator.table.lock.contended
        s.transitoryEvictions = p.engine.translator.table.transitoryEvictions
        s.sessionEvictions = p.engine.translator.table.sessionEvictions
        let table = p.engine.translator.table
        if table.hasAbuseCounters {
            (s.portBlocks, s.policyRefusals) = table.lock.withLock { (table.portBlockCounters, table.policyRefusals) }
        }
        return s
    }

    private func publish(_ p: borrowing Parts) {
        let snapshot = currentStats(p)
        published.withLock { $0 = snapshot }
    }

    /// Answers the pending control request (packet thread only).
    private func answer(_ capture: inout QueueCaptureTap?, parts p: inout Parts) {
        requestPending.store(false, ordering: .relaxed)
        guard let (id, request) = mailbox.withLock({ m -> (UInt64, Request)? in
            defer { m.request = nil }
            return m.request
        }) else { return }
        var reply = Reply(stats: currentStats(p), capture: capture?.shared.status, now: monotonicNanoseconds())
        switch request {
        case .snapshot:
            break
        case .bindings(let from, let limit):
            let table = p.engine.translator.table
            let slice = table.lock.withLock { table.bindings(from: from, limit: limit) }
            reply.bindings = slice.bindings
            reply.next = slice.next
        case .startCapture(let shared):
            if capture == nil {
                capture = shared.tap()
                reply.capture = shared.status
            } else {
                reply.accepted = false
            }
        case .stopCapture:
            // The group closes the shared files once every queue has let go of them.
            capture?.flush()
            reply.capture = capture?.shared.status
            capture = nil
        case .who(let address, let port):
            let table = p.engine.translator.table
            reply.holders = table.lock.withLock { table.holders(of: address, port: port) }
        case .forwards:
            let table = p.engine.translator.table
            reply.forwards = table.lock.withLock { table.forwardStatus() }
        case .reconfigure(let configuration):
            p.engine.translator.reconfigure(configuration, now: monotonicNanoseconds())
        }
        mailbox.withLock { $0.reply = (id, reply) }
        answered.signal()
    }
}
