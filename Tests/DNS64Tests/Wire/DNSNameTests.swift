import Testing
@testable import DNS64

/// Rule N5: the name parser refuses loops, forward pointers, long labels and names, and truncation.
struct DNSNameTests {
    private func parseName(_ bytes: [UInt8], at offset: Int) throws(DNSWireError) -> (DNSName, Int) {
        let (name, end) = try DNSName.parse(bytes, at: offset)
        return (name, end)
    }

    @Test func N5_plainNameParses() throws {
        let bytes = Bytes.name("www.Example.com")
        let (name, end) = try parseName(bytes, at: 0)
        #expect(end == bytes.count)
        #expect(name.labels.map { String(decoding: $0, as: UTF8.self) } == ["www", "Example", "com"])
        #expect(name == DNSName("WWW.example.COM."))  // RFC 4343: case-insensitive
        #expect(name.description == "www.Example.com.")
    }

    @Test func N5_backwardPointerParses() throws {
        // 0: "example.com"  13: "www" + pointer to 0
        let bytes = Bytes.name("example.com") + [3] + Array("www".utf8) + [0xC0, 0x00]
        let (name, end) = try parseName(bytes, at: 13)
        #expect(name == DNSName("www.example.com"))
        #expect(end == bytes.count)  // ends after the pointer, not after the target
    }

    @Test func N5_selfPointerIsForward() {
        let bytes: [UInt8] = [0xC0, 0x00]
        #expect(throws: DNSWireError(.forwardPointer, "")) { try parseName(bytes, at: 0) }
    }

    @Test func N5_forwardPointerRefused() {
        // pointer at 0 to offset 2 (after itself), where a valid name sits
        let bytes: [UInt8] = [0xC0, 0x02] + Bytes.name("a")
        #expect(throws: DNSWireError(.forwardPointer, "")) { try parseName(bytes, at: 0) }
    }

    @Test func N5_compressionLoopRefused() {
        // 0: label "a", then pointer back to 0: a → a → a …
        let loop: [UInt8] = [1, 0x61, 0xC0, 0x00]
        #expect(throws: DNSWireError(.compressionLoop, "")) { try parseName(loop, at: 0) }
        // Two-step loop: 0: "b" ptr→4 ; 4: "c" ptr→0 (reached through a pointer from 8)
        let twoStep: [UInt8] = [1, 0x62, 0xC0, 0x04, 1, 0x63, 0xC0, 0x00, 0xC0, 0x04]
        #expect(throws: DNSWireError.self) { try parseName(twoStep, at: 8) }
    }

    @Test func N5_labelOver63Refused() {
        // 0x40 = 64 as a length byte is the (unsupported) extended label type
        let bytes: [UInt8] = [0x40] + Array(repeating: 0x61, count: 64) + [0]
        #expect(throws: DNSWireError(.labelTooLong, "")) { try parseName(bytes, at: 0) }
        #expect(throws: DNSWireError(.labelTooLong, "")) { try parseName([0x80, 0x00], at: 0) }
        #expect(throws: DNSWireError(.invalidName, "")) { try DNSName(labels: [Array(repeating: 0x61, count: 64)]) }
    }

    @Test func N5_nameOver255Refused() {
        // Four 63-byte labels: 4 × 64 + 1 = 257 bytes.
        let label: [UInt8] = [63] + Array(repeating: 0x61, count: 63)
        let tooLong = label + label + label + label + [0]
        #expect(throws: DNSWireError(.nameTooLong, "")) { try parseName(tooLong, at: 0) }
        // Exactly 255: three 63-byte labels + one 61-byte label.
        let fits = label + label + label + [61] + Array(repeating: 0x62, count: 61) + [0]
        #expect(fits.count == 255)
        #expect((try? parseName(fits, at: 0)) != nil)
        // Over 255 reached through pointers: each step adds a label to a long suffix.
        let base = label + label + label + [0]  // 193 bytes at 0
        let viaPointers = base + [63] + Array(repeating: 0x63, count: 63) + [0xC0, 0x00]
        #expect(throws: DNSWireError(.nameTooLong, "")) { try parseName(viaPointers, at: base.count) }
    }

    @Test func N5_truncatedNameRefused() {
        #expect(throws: DNSWireError(.truncated, "")) { try parseName([3, 0x61, 0x62], at: 0) }
        #expect(throws: DNSWireError(.truncated, "")) { try parseName([1, 0x61], at: 0) }  // no root label
        #expect(throws: DNSWireError(.truncated, "")) { try parseName([0xC0], at: 0) }  // half a pointer
        #expect(throws: DNSWireError(.truncated, "")) { try parseName([], at: 0) }
    }

    @Test func N5_textFormsAndLimits() {
        #expect(DNSName(".") == .root)
        #expect(DNSName("a..b") == nil)
        #expect(DNSName(String(repeating: "a", count: 64) + ".com") == nil)
        #expect(DNSName("a.b")?.wireLength == 5)
        #expect((try? DNSName(labels: [[0x61, 0x2E]]))?.description == "a\\046.")
    }
}
