// The control socket server: one small thread, off the packet path, serving one request per connection
// (ControlProtocol.swift). Requests that need the translator's state go to the packet thread through
// the packet threads' mailboxes; nothing here touches the translator directly.
import Forwarding
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Serves the control socket on its own thread until `stop()`.
final class ControlServer: @unchecked Sendable {
    // @unchecked: `listener` and `handler` are used only by the server thread after `start`; `stopRequested`
    // is atomic and `thread` is touched only by the owner (start/stop).
    private let listener: UnixListener
    private var handler: @Sendable ([String]) -> Result<[String], ControlError> = { _ in
        .failure(ControlError("nat64d is starting"))
    }
    private let stopRequested = Atomic<Bool>(false)
    private var thread: DedicatedThread?

    /// The socket's path.
    var path: String { listener.path }

    /// Binds the socket (see `UnixListener`), so a bad path fails startup before anything else runs.
    ///
    /// - Parameter path: the socket path from `[control] socket`.
    init(path: String) throws(SocketError) {
        listener = try UnixListener(path: path)
    }

    /// Starts the server thread.
    ///
    /// - Parameter handler: runs one request's words and returns its body lines or error.
    func start(handler: @escaping @Sendable ([String]) -> Result<[String], ControlError>) throws(SocketError) {
        self.handler = handler
        do {
            thread = try DedicatedThread { self.serve() }
        } catch {
            throw SocketError("pthread_create", listener.path, errno: error.code)
        }
    }

    /// Stops accepting and waits for the thread (within one poll interval plus a request in progress).
    func stop() {
        stopRequested.store(true, ordering: .releasing)
        thread?.join()
        thread = nil
    }

    private func serve() {
        while !stopRequested.load(ordering: .acquiring) {
            guard let connection = listener.accept(timeoutMilliseconds: 200) else { continue }
            connection.setTimeouts(seconds: 5)
            guard let line = connection.readLine(limit: ControlProtocol.maxRequestLength) else {
                connection.writeAll(ControlProtocol.response(.failure(ControlError(
                    "expected one request line of at most \(ControlProtocol.maxRequestLength) bytes"))))
                continue
            }
            let result = ControlProtocol.words(line).flatMap { words in handler(words) }
            connection.writeAll(ControlProtocol.response(result))
        }
    }
}
