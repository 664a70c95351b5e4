// The pool-assignment journal (S10): a later line wins for a host and for an address, garbage lines are
// skipped and reported with their line, and a file longer than the load limit is read from its tail only.
import Glibc
import NAT64Translator
import Testing

@testable import nat64d

@Suite struct StatePersistenceTests {
    static func bytes(_ text: String) -> ArraySlice<UInt8> { ArraySlice(Array(text.utf8)) }

    @Test func S10_laterLinesWinPerHostAndPerAddress() {
        let loaded = StatePersistence.parse(Self.bytes("""
            2001:db8::1 192.0.2.1
            2001:db8::2 192.0.2.2
            2001:db8::1 192.0.2.3
            2001:db8::4 192.0.2.2

            """))
        #expect(loaded.assignments.map { "\($0.inside) \($0.outside)" }
            == ["2001:db8::1 192.0.2.3", "2001:db8::4 192.0.2.2"])
        #expect(loaded.badLines == 0)
        #expect(loaded.firstBadLine == nil)
    }

    @Test func garbageLinesAreCountedWithTheFirstLineNumber() {
        let loaded = StatePersistence.parse(Self.bytes(
            "2001:db8::1 192.0.2.1\n\u{1}\u{2}garbage\n2001:db8::2\n2001:db8::3 192.0.2.999\n"
            + String(repeating: "f", count: 5000) + " 192.0.2.7\n2001:db8::9 192.0.2.9\n"))
        #expect(loaded.assignments.count == 2)
        #expect(loaded.badLines == 4)
        #expect(loaded.firstBadLine == 2)
    }

    /// A file past the limit is read from its newest part; the cut first line is not taken as garbage.
    @Test func longFileIsReadFromItsTail() throws {
        let dir = "/tmp/nat64d-state-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        _ = mkdir(dir, 0o700)
        let persistence = StatePersistence(directory: dir)
        defer { _ = unlink(persistence.path); _ = rmdir(dir) }
        let fd = open(persistence.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        let junk = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
        for _ in 0..<(StatePersistence.maxLoadBytes >> 20) + 2 {
            _ = junk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
        let tail = Array("\n2001:db8::5 192.0.2.5\n".utf8)
        _ = tail.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let loaded = persistence.load()
        #expect(loaded.skippedBytes == (2 << 20) + tail.count)
        #expect(loaded.assignments.map { "\($0.inside) \($0.outside)" } == ["2001:db8::5 192.0.2.5"])
        #expect(loaded.badLines == 0)
    }
}
