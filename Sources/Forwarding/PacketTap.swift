// The capture hooks of the packet loop. The engine is generic over its tap, so a loop specialised for
// `NoCapture` (capture off) has empty hooks and costs nothing; `CaptureRecorder` (capture on) and
// `ReplayTap` (`nat64d replay`) record what happened.
import NAT64Translator
import PacketCapture
import Synchronization

/// Hooks the engine calls around each translation.
public protocol PacketTap {
    /// The packet as read, before translation rewrites it in place.
    func stash(_ packet: UnsafeRawBufferPointer)
    /// The verdict and what is sent (the translation, the ICMP error, or nothing for a drop).
    func record(_ verdict: Verdict, output: UnsafeRawBufferPointer)
    /// A further output of the same packet (the later fragments of `.translatedFragments`).
    func recordAdditional(output: UnsafeRawBufferPointer)
    /// A packet the engine sent on its own timer (S6 ICMPv4 3/3 for a held SYN).
    func recordGenerated(_ output: UnsafeRawBufferPointer)
    /// Once per housekeeping pass: push buffered records out.
    func flush()
}

/// Capture off: hooks that compile to nothing.
public struct NoCapture: PacketTap {
    public init() {}
    @inline(__always) public func stash(_ packet: UnsafeRawBufferPointer) {}
    @inline(__always) public func record(_ verdict: Verdict, output: UnsafeRawBufferPointer) {}
    @inline(__always) public func recordAdditional(output: UnsafeRawBufferPointer) {}
    @inline(__always) public func recordGenerated(_ output: UnsafeRawBufferPointer) {}
    @inline(__always) public func flush() {}
}

extension CaptureRecorder: PacketTap {}

/// One capture shared by every packet thread: the recorder's files are written under a lock, so several
/// queues can record into the same set of files. Capture is a debugging mode; when it is off no lock exists on
/// the path at all.
public final class SharedCapture: @unchecked Sendable {
    // @unchecked: `recorder` is only touched with `lock` held.
    private let recorder: CaptureRecorder
    private let lock = Mutex(())

    public init(recorder: CaptureRecorder) { self.recorder = recorder }

    /// The recorder's counters.
    public var status: CaptureStatus { lock.withLock { _ in recorder.status } }

    /// Flushes and closes the files.
    public func close() { lock.withLock { _ in recorder.close() } }

    /// A tap for one packet thread.
    public func tap() -> QueueCaptureTap { QueueCaptureTap(self) }

    fileprivate func withRecorder<R>(_ body: (CaptureRecorder) -> R) -> R { lock.withLock { _ in body(recorder) } }
}

/// One packet thread's view of a `SharedCapture`: the packet as read is kept in the thread's own buffer until
/// its verdict is known, then both are recorded under the capture's lock.
public final class QueueCaptureTap: PacketTap {
    let shared: SharedCapture
    private let input: UnsafeMutableRawPointer
    private let inputCapacity = 65_536 + 256
    private var inputCount = 0

    init(_ shared: SharedCapture) {
        self.shared = shared
        input = .allocate(byteCount: inputCapacity, alignment: 16)
    }

    deinit { input.deallocate() }

    public func stash(_ packet: UnsafeRawBufferPointer) {
        inputCount = min(packet.count, inputCapacity)
        if let base = packet.baseAddress, inputCount > 0 { input.copyMemory(from: base, byteCount: inputCount) }
    }

    public func record(_ verdict: Verdict, output: UnsafeRawBufferPointer) {
        let packet = UnsafeRawBufferPointer(start: input, count: inputCount)
        shared.withRecorder {
            $0.stash(packet)
            $0.record(verdict, output: output)
        }
    }

    public func recordAdditional(output: UnsafeRawBufferPointer) { shared.withRecorder { $0.recordAdditional(output: output) } }
    public func recordGenerated(_ output: UnsafeRawBufferPointer) { shared.withRecorder { $0.recordGenerated(output) } }
    public func flush() { shared.withRecorder { $0.flush() } }
}
