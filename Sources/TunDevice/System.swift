// One helper for system calls: retries EINTR, turns failures into `SystemError` naming the call.
#if canImport(Glibc)
import Glibc
#endif

/// A failed system or library call: errno (or a library code) plus the call's name and a readable text.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public var code: Int32
    public var call: String
    public var detail: String

    public init(code: Int32, call: String, detail: String? = nil) {
        self.code = code
        self.call = call
        self.detail = detail ?? String(cString: strerror(code))
    }

    public var description: String { "\(call): \(detail) (\(code))" }
}

/// Runs `body` until it does not fail with EINTR; throws `SystemError` on -1.
@inline(__always)
func syscall<T: FixedWidthInteger>(_ name: @autoclosure () -> String, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let r = body()
        if r == -1 {
            let e = errno
            if e == EINTR { continue }
            throw SystemError(code: e, call: name())
        }
        return r
    }
}
