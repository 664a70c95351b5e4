// The packet path: one thread per TUN queue reads packets into a preallocated buffer, runs them through its
// own translator, and writes the result (or the ICMP error) back into the TUN. No allocation per packet, no
// lock on the path; counters are published to the control side once per second.
//
// The control side talks to the packet thread through a mailbox: it posts one request and raises a flag; the
// packet thread checks the flag (one atomic load per loop iteration, i.e. per batch), answers with a copy of
// what was asked (counters, the mappings, the capture status) and signals. Capture recorders are handed over
// the same way, so the translator and the capture files are only ever touched by the packet thread.
//
// Capture costs nothing while off: each batch is drained by a loop specialised for `NoCapture`, whose hooks
// are empty; only when a recorder is installed does the loop specialised for `CaptureRecorder` run.
import Dispatch
import NAT64Translator
import PacketCapture
import Synchronization
import TunDevice
#if canImport(Glibc)
import Glibc
#endif

/// Monotonic nanoseconds (CLOCK_MONOTONIC).
func monotonicNanoseconds() -> Nanoseconds {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Nanoseconds(ts.tv_sec) * 1_000_000_000 + Nanoseconds(ts.tv_nsec)
}

/// The capture hooks of the packet loop: called before and after each translation.
protocol PacketTap {
    /// The packet as read, before translation rewrites it.
    func stash(_ packet: UnsafeRawBufferPointer)
    /// The verdict and what is sent (translation, ICMP error, or nothing).
    func record(_ verdict: Verdict, output: UnsafeRawBufferPointer)
    /// A further output of the same packet (later fragments).
    func recordAdditional(output: UnsafeRawBufferPointer)
}

/// Capture off: hooks that compile to nothing.
struct NoCapture: PacketTap {
    @inline(__always) func stash(_ packet: UnsafeRawBufferPointer) {}
    @inline(__always) func record(_ verdict: Verdict, output: UnsafeRawBufferPointer) {}
    @inline(__always) func recordAdditional(output: UnsafeRawBufferPointer) {}
}

extension CaptureRecorder: PacketTap {}

/// Owns one TUN queue and one translator, and runs the loop on a dedicated thread.
final class PacketForwarder: @unchecked Sendable {
    // @unchecked: `queue`, `translator` and the capture recorder are touched only by the forwarding thread
    // after `start`; the other members are synchronised (Atomic, Mutex, semaphore).
    private let queue: TunQueue
    private var translator: Translator
    private let stopRequested = Atomic<Bool>(false)
    private let published = Mutex(ForwarderStats())
    private var thread: DedicatedThread?
    private var initialCapture: CaptureRecorder?

    // The control mailbox.
    private let requestPending = Atomic<Bool>(false)
    private let mailbox = Mutex(Mailbox())
    private let answered = DispatchSemaphore(value: 0)
    private let nextRequestID = Atomic<UInt64>(1)

    /// What the control side can read.
    struct ForwarderStats: Sendable {
        var counters = TranslatorCounters()
        var sessions = 0
        var readErrors: UInt64 = 0
        var writeErrors: UInt64 = 0
        /// Packets whose virtio-net header did not describe them (kernel offload metadata distrusted).
        var badOffloadHeaders: UInt64 = 0
    }

    /// A question for the packet thread.
    enum Request: Sendable {
        /// Fresh counters and capture status; with `sessions`, a copy of every mapping too.
        case snapshot(sessions: Bool)
        /// Install this recorder (refused while another one runs).
        case startCapture(CaptureRecorder)
        /// Close the running recorder; the reply carries its final status.
        case stopCapture
    }

    /// The packet thread's answer.
    struct Reply: Sendable {
        var stats: ForwarderStats
        /// The running capture, or for `stopCapture` the one just stopped.
        var capture: CaptureStatus?
        /// The mappings (for `snapshot(sessions: true)`).
        var bindings: [Binding] = []
        /// The packet thread's clock when it answered (for idle times).
        var now: Nanoseconds
        /// False when a `startCapture` was refused.
        var accepted = true
    }

    private struct Mailbox {
        var request: (id: UInt64, request: Request)?
        var reply: (id: UInt64, reply: Reply)?
    }

    /// - Parameters:
    ///   - queue: the TUN queue this forwarder reads and writes.
    ///   - translator: its translator.
    ///   - capture: a recorder to run from the start (`[capture] enabled`).
    init(queue: consuming TunQueue, translator: Translator, capture: CaptureRecorder? = nil) {
        self.queue = queue
        self.translator = translator
        initialCapture = capture
    }

    var stats: ForwarderStats { published.withLock { $0 } }

    /// Starts the forwarding thread.
    func start() throws {
        thread = try DedicatedThread { self.loop() }
    }

    /// Asks the loop to stop and waits for the thread (the loop notices within one poll interval).
    func stop() {
        stopRequested.store(true, ordering: .releasing)
        thread?.join()
        thread = nil
    }

    /// Posts `request` to the packet thread and waits for its answer.
    ///
    /// One caller at a time (the control server's thread). A request that times out is withdrawn; a late
    /// answer to it is recognised by its id and ignored.
    /// - Returns: the reply, or nil when the packet thread did not answer within `timeoutSeconds`.
    func ask(_ request: Request, timeoutSeconds: Double = 2) -> Reply? {
        let id = nextRequestID.wrappingAdd(1, ordering: .relaxed).oldValue
        mailbox.withLock { $0.request = (id, request) }
        requestPending.store(true, ordering: .releasing)
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

    /// Per-thread loop state: the buffers and I/O error counts.
    private struct LoopState: ~Copyable {
        var packet = PacketBuffer()
        var reply = PacketBuffer(capacity: PacketBuffer.headroom + 2048)
        var readErrors: UInt64 = 0
        var writeErrors: UInt64 = 0
        var badOffloadHeaders: UInt64 = 0
    }

    private func loop() {
        var state = LoopState()
        var capture = initialCapture
        initialCapture = nil
        var lastHousekeeping = monotonicNanoseconds()
        while !stopRequested.load(ordering: .acquiring) {
            let readable = (try? queue.waitReadable(timeoutMilliseconds: 200)) ?? false
            if readable {
                if let capture {
                    drain(&state, tap: capture)
                } else {
                    drain(&state, tap: NoCapture())
                }
            }
            if requestPending.load(ordering: .acquiring) {
                answer(&capture, state: state)
            }
            let now = monotonicNanoseconds()
            if now - lastHousekeeping >= 1_000_000_000 {
                lastHousekeeping = now
                _ = translator.expire(now: now)
                while translator.heldSYNError(now: now, into: &state.reply) {  // S6: ICMPv4 3/3 (RFC6146/SimultaneousOpen.swift)
                    capture?.recordGenerated(UnsafeRawBufferPointer(state.reply.packet))
                    do { try queue.send(state.reply.base + state.reply.start, count: state.reply.count, offload: .plain) }
                    catch { state.writeErrors &+= 1 }
                }
                capture?.flush()
                let snapshot = currentStats(state)
                published.withLock { $0 = snapshot }
            }
        }
        capture?.close()
        let final = currentStats(state)
        published.withLock { $0 = final }
    }

    /// Reads, translates and writes what is queued, bounded so housekeeping and requests are not starved.
    @inline(__always)
    private func drain<Tap: PacketTap>(_ state: inout LoopState, tap: Tap) {
        var budget = 256
        while budget > 0 {
            budget -= 1
            do {
                switch try queue.receive(into: &state.packet) {
                case .packet: break
                case .empty: return
                case .badOffloadHeader:
                    state.badOffloadHeaders &+= 1
                    continue
                }
            } catch {
                state.readErrors &+= 1
                return
            }
            tap.stash(UnsafeRawBufferPointer(state.packet.packet))
            let now = monotonicNanoseconds()
            let verdict = translator.translate(&state.packet, reply: &state.reply, now: now)
            switch verdict {
            case .translated:
                tap.record(verdict, output: UnsafeRawBufferPointer(state.packet.packet))
                do {
                    try queue.send(state.packet.base + state.packet.start, count: state.packet.count,
                                   offload: state.packet.offload)
                } catch {
                    state.writeErrors &+= 1
                }
            case .icmpError:
                tap.record(verdict, output: UnsafeRawBufferPointer(state.reply.packet))
                do { try queue.send(state.reply.base + state.reply.start, count: state.reply.count, offload: .plain) }
                catch { state.writeErrors &+= 1 }
            case .translatedFragments(let count):
                for i in 0..<count {
                    let fragment = translator.fragment(at: i)
                    if i == 0 { tap.record(verdict, output: fragment) } else { tap.recordAdditional(output: fragment) }
                    do { try queue.send(fragment.baseAddress!, count: fragment.count, offload: .plain) }
                    catch { state.writeErrors &+= 1 }
                }
            case .drop:
                tap.record(verdict, output: UnsafeRawBufferPointer(start: nil, count: 0))
            }
        }
    }

    private func currentStats(_ state: borrowing LoopState) -> ForwarderStats {
        ForwarderStats(counters: translator.counters, sessions: translator.table.count,
                       readErrors: state.readErrors, writeErrors: state.writeErrors,
                       badOffloadHeaders: state.badOffloadHeaders)
    }

    /// Answers the pending control request (packet thread only).
    private func answer(_ capture: inout CaptureRecorder?, state: borrowing LoopState) {
        requestPending.store(false, ordering: .relaxed)
        guard let (id, request) = mailbox.withLock({ m -> (UInt64, Request)? in
            defer { m.request = nil }
            return m.request
        }) else { return }
        var reply = Reply(stats: currentStats(state), capture: capture?.status, now: monotonicNanoseconds())
        switch request {
        case .snapshot(let sessions):
            if sessions { reply.bindings = translator.table.bindings }
        case .startCapture(let recorder):
            if capture == nil {
                capture = recorder
                reply.capture = recorder.status
            } else {
                recorder.close()
                reply.accepted = false
            }
        case .stopCapture:
            capture?.close()
            reply.capture = capture?.status
            capture = nil
        }
        mailbox.withLock { $0.reply = (id, reply) }
        answered.signal()
    }
}
