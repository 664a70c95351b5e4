// Dedicated threads for loops that block (the packet loop on the TUN, the control server on its socket):
// they must not sit on NIO's event loops or Dispatch's shared pool.
import TunDevice
#if canImport(Glibc)
import Glibc
#endif

/// A joinable pthread running one closure.
public struct DedicatedThread: Sendable {
    private let thread: pthread_t

    /// Starts a thread running `body`.
    ///
    /// - Throws: `SystemError` naming `pthread_create`.
    public init(_ body: @escaping @Sendable () -> Void) throws(SystemError) {
        final class Box: Sendable {
            let body: @Sendable () -> Void
            public init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let box = Unmanaged.passRetained(Box(body))
        var tid = pthread_t()
        let r = pthread_create(&tid, nil, { arg in
            Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue().body()
            return nil
        }, box.toOpaque())
        guard r == 0 else {
            box.release()
            throw SystemError(code: r, call: "pthread_create")
        }
        thread = tid
    }

    /// Waits for the thread to finish.
    public func join() { pthread_join(thread, nil) }
}
