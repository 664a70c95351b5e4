// A bounded single-producer/single-consumer ring: how a packet thread hands events (pool assignments to
// persist; later, mapping-log records) to a writer thread without a lock, an allocation or any file I/O on the
// packet path. When the ring is full the event is dropped and counted: the packet path never waits for a disk.
import Synchronization

/// A fixed-capacity SPSC queue. One thread calls `push`, one other thread calls `drain`.
public final class EventRing<Element: Sendable>: @unchecked Sendable {
    // @unchecked: slots are written only by the producer before it publishes `tail` (release) and read only by
    // the consumer after it observes `tail` (acquire), and the other way round for `head`; that is the SPSC
    // contract, which the atomics enforce.
    private let slots: UnsafeMutablePointer<Element>
    private let mask: Int
    /// Next slot the consumer reads (consumer writes, producer reads).
    private let head = Atomic<Int>(0)
    /// Next slot the producer writes (producer writes, consumer reads).
    private let tail = Atomic<Int>(0)
    private let droppedCount = Atomic<UInt64>(0)

    /// The ring's capacity (a power of two, at least `minimumCapacity`).
    public let capacity: Int

    public init(minimumCapacity: Int) {
        var c = 2
        while c < minimumCapacity { c <<= 1 }
        capacity = c
        mask = c - 1
        slots = .allocate(capacity: c)
    }

    deinit {
        let h = head.load(ordering: .relaxed)
        let t = tail.load(ordering: .relaxed)
        var i = h
        while i != t {
            (slots + (i & mask)).deinitialize(count: 1)
            i &+= 1
        }
        slots.deallocate()
    }

    /// Events lost because the ring was full.
    public var dropped: UInt64 { droppedCount.load(ordering: .relaxed) }

    /// Events waiting.
    public var count: Int { tail.load(ordering: .acquiring) &- head.load(ordering: .acquiring) }

    /// Adds an event (producer thread only).
    /// - Returns: false (and counts it) when the ring is full.
    @discardableResult
    public func push(_ element: Element) -> Bool {
        let t = tail.load(ordering: .relaxed)
        if t &- head.load(ordering: .acquiring) >= capacity {
            droppedCount.wrappingAdd(1, ordering: .relaxed)
            return false
        }
        (slots + (t & mask)).initialize(to: element)
        tail.store(t &+ 1, ordering: .releasing)
        return true
    }

    /// Takes every waiting event, oldest first (consumer thread only).
    /// - Returns: how many were taken.
    @discardableResult
    public func drain(_ body: (Element) -> Void) -> Int {
        let h = head.load(ordering: .relaxed)
        let t = tail.load(ordering: .acquiring)
        var i = h
        while i != t {
            body((slots + (i & mask)).move())
            i &+= 1
        }
        head.store(t, ordering: .releasing)
        return t &- h
    }
}
