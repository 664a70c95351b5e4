// The lock that lets several packet threads (one per TUN queue) share one state table.
//
// Why a spinlock of our own: the critical section is one packet's table work (a lookup, maybe an insert:
// 50–400 ns), far shorter than a futex round trip, and the packet path must not allocate or enter the kernel
// for it. `Synchronization.Mutex` only offers a closure API, which does not fit a section that spans the
// translator's own `mutating` methods. Contended acquisitions are counted, so `ctl stats` shows whether the
// shared table is a bottleneck (docs/design.md, "Every core").
import Synchronization

/// A test-and-test-and-set spinlock with a contention counter.
public final class TableLock: Sendable {
    @usableFromInline let locked = Atomic<Bool>(false)
    @usableFromInline let contendedCount = Atomic<UInt64>(0)

    public init() {}

    /// Acquisitions that found the lock held (and spun).
    public var contended: UInt64 { contendedCount.load(ordering: .relaxed) }

    @inlinable @inline(__always)
    public func lock() {
        if tryLock() { return }
        slowLock()
    }

    @usableFromInline @inline(__always)
    func tryLock() -> Bool {
        locked.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    }

    @usableFromInline @inline(never)
    func slowLock() {
        contendedCount.wrappingAdd(1, ordering: .relaxed)
        while true {
            while locked.load(ordering: .relaxed) {}
            if tryLock() { return }
        }
    }

    @inlinable @inline(__always)
    public func unlock() { locked.store(false, ordering: .releasing) }

    /// Runs `body` with the lock held (slow paths: dumps, restore, counts from another thread).
    @inlinable
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}
