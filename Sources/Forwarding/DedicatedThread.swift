// Dedicated threads for loops that block (the packet loop on the TUN, the control server on its socket):
// they must not sit on NIO's event loops or Dispatch's shared pool.
import TunDevice
#if canImport(Glibc)
import Glibc
#endif

/// A joinable pthread running one closure, under a name that `top -H`, `ps -L` and `perf` show (a thread
/// otherwise inherits its creator's, often a Swift concurrency pool thread's "com.apple.root.default-qos").
public struct DedicatedThread: Sendable {
    private let thread: pthread_t

    /// Starts a thread running `body`.
    ///
    /// - Parameters:
    ///   - name: the thread's name; the kernel keeps its first 15 bytes.
    ///   - body: what the thread runs.
    /// - Throws: `SystemError` naming `pthread_create`.
    public init(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        final class Box: Sendable {
            let name: String
            let body: @Sendable () -> Void
            init(_ name: String, _ body: @escaping @Sendable () -> Void) {
                self.name = name
                self.body = body
            }
        }
        let box = Unmanaged.passRetained(Box(name, body))
        var tid = pthread_t()
        let r = pthread_create(&tid, nil, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            DedicatedThread.nameCurrent(box.name)
            box.body()
            return nil
        }, box.toOpaque())
        guard r == 0 else {
            box.release()
            throw SystemError(code: r, call: "pthread_create")
        }
        thread = tid
    }

    /// Names the calling thread (its first 15 bytes: the kernel's limit). Through /proc/thread-self/comm: the
    /// C library's pthread_setname_np is not visible to Swift here.
    public static func nameCurrent(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// Waits for the thread to finish.
    public func join() { pthread_join(thread, nil) }
}
