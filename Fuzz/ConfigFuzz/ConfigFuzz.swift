// libFuzzer target for the configuration reader (GatewayConfig): any bytes either load or give errors that
// name the file and a line within it, never a trap.
//
//   bash scripts/fuzz.sh config                # build with libFuzzer + ASan and run (scripts/fuzz.sh -h)
//   .build/debug/fuzz-config FILE...           # without the fuzzer: replay inputs
import FuzzSupport
import GatewayConfig

/// Runs one input; returns the number of errors reported (0: it loaded).
@inline(never)
func fuzzConfig(_ data: UnsafeRawBufferPointer) -> Int {
    let text = String(decoding: data, as: UTF8.self)
    let errors = GatewayConfiguration.diagnose(text, file: "fuzz.toml")
    // Lines as the reader counts them: by LF bytes (a Swift String would take "\r\n" as one Character).
    let lines = data.reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
    for error in errors {
        precondition(error.file == "fuzz.toml", "error without the file: \(error)")
        precondition(error.line >= 1 && error.line <= max(1, lines), "line \(error.line) of \(lines): \(error)")
    }
    return errors.count
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    precondition(fuzzConfig(UnsafeRawBufferPointer(start: data, count: size)) >= 0)
    return 0
}
#else
@main
struct ReplayMain {
    static func main() { replay(CommandLine.arguments.dropFirst()) { fuzzConfig($0) } }
}
#endif
