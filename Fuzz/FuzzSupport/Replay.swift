// Without libFuzzer, a fuzz target replays input files (a corpus, or a crash a fuzzer found) and prints one
// line per file; scripts/fuzz.sh and the tests use it to run the checked-in corpus on every build.
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` on the bytes of each file in `paths`; exits 1 if a file cannot be read.
public func replay(_ paths: ArraySlice<String>, _ body: (UnsafeRawBufferPointer) -> Int) {
    for path in paths {
        guard let file = fopen(path, "rb") else {
            print("\(path): cannot open")
            exit(1)
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        fclose(file)
        let result = bytes.withUnsafeBytes { body($0) }
        print("\(path): \(bytes.count) bytes, result \(result)")
    }
}
