// The packet path: one thread per TUN queue reads packets into a preallocated buffer, runs them through its
// own translator, and writes the result (or the ICMP error) back into the TUN. No allocation per packet, no
// lock on the path; counters are published to the control side once per second.
import NAT64Translator
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

/// Owns one TUN queue and one translator, and runs the loop on a dedicated thread.
final class PacketForwarder: @unchecked Sendable {
    // @unchecked: `queue` and `translator` are touched only by the forwarding thread after `start`;
    // the other members are synchronised (Atomic, Mutex).
    private let queue: TunQueue
    private var translator: Translator
    private let stopRequested = Atomic<Bool>(false)
    private let published = Mutex(ForwarderStats())
    private var thread: pthread_t?

    /// What the control side can read.
    struct ForwarderStats: Sendable {
        var counters = TranslatorCounters()
        var sessions = 0
        var readErrors: UInt64 = 0
        var writeErrors: UInt64 = 0
    }

    init(queue: consuming TunQueue, translator: Translator) {
        self.queue = queue
        self.translator = translator
    }

    var stats: ForwarderStats { published.withLock { $0 } }

    /// Starts the forwarding thread.
    func start() throws {
        let box = Unmanaged.passRetained(self)
        var tid = pthread_t()
        let r = pthread_create(&tid, nil, { arg in
            let me = Unmanaged<PacketForwarder>.fromOpaque(arg!).takeRetainedValue()
            me.loop()
            return nil
        }, box.toOpaque())
        if r != 0 {
            box.release()
            throw SystemError(code: r, call: "pthread_create")
        }
        thread = tid
    }

    /// Asks the loop to stop and waits for the thread (the loop notices within one poll interval).
    func stop() {
        stopRequested.store(true, ordering: .releasing)
        if let t = thread {
            pthread_join(t, nil)
            thread = nil
        }
    }

    private func loop() {
        var packet = PacketBuffer()
        var reply = PacketBuffer(capacity: PacketBuffer.headroom + 2048)
        var readErrors: UInt64 = 0
        var writeErrors: UInt64 = 0
        var lastHousekeeping = monotonicNanoseconds()
        while !stopRequested.load(ordering: .acquiring) {
            let readable = (try? queue.waitReadable(timeoutMilliseconds: 200)) ?? false
            if readable {
                // Drain what is queued, bounded so housekeeping and stop requests are not starved.
                var budget = 256
                while budget > 0 {
                    budget -= 1
                    let area = packet.readArea
                    let n: Int
                    do {
                        guard let got = try queue.readNonBlocking(into: area.pointer, capacity: area.count) else { break }
                        n = got
                    } catch {
                        readErrors &+= 1
                        break
                    }
                    packet.received(length: n)
                    let now = monotonicNanoseconds()
                    switch translator.translate(&packet, reply: &reply, now: now) {
                    case .translated:
                        do { try queue.write(packet.base + packet.start, count: packet.count) } catch { writeErrors &+= 1 }
                    case .icmpError:
                        do { try queue.write(reply.base + reply.start, count: reply.count) } catch { writeErrors &+= 1 }
                    case .drop:
                        break
                    }
                }
            }
            let now = monotonicNanoseconds()
            if now - lastHousekeeping >= 1_000_000_000 {
                lastHousekeeping = now
                _ = translator.expire(now: now)
                while translator.heldSYNError(now: now, into: &reply) {  // S6: ICMPv4 3/3 (RFC6146/SimultaneousOpen.swift)
                    do { try queue.write(reply.base + reply.start, count: reply.count) } catch { writeErrors &+= 1 }
                }
                let snapshot = ForwarderStats(counters: translator.counters, sessions: translator.table.count,
                                              readErrors: readErrors, writeErrors: writeErrors)
                published.withLock { $0 = snapshot }
            }
        }
        let final = ForwarderStats(counters: translator.counters, sessions: translator.table.count,
                                   readErrors: readErrors, writeErrors: writeErrors)
        published.withLock { $0 = final }
    }
}
