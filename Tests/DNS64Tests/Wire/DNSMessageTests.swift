import NAT64Translator
import Testing
@testable import DNS64

/// Message parsing and building (RFC 1035 §4.1), rule N5 for counts and trailing bytes.
struct DNSMessageTests {
    /// A response for example.com A: one compressed A record, 192.0.2.1, TTL 300. Written out byte by byte.
    static let aResponse: [UInt8] = [
        0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,  // header
        0x07, 0x65, 0x78, 0x61, 0x6D, 0x70, 0x6C, 0x65, 0x03, 0x63, 0x6F, 0x6D, 0x00,  // example.com
        0x00, 0x01, 0x00, 0x01,  // A IN
        0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2C, 0x00, 0x04, 0xC0, 0x00, 0x02, 0x01,
    ]

    @Test func N5_parsesHandBuiltResponse() throws {
        let message = try DNSMessage(parsing: Self.aResponse)
        #expect(message.header.id == 0x1234)
        #expect(message.header.flags.isResponse)
        #expect(message.header.flags.recursionDesired && message.header.flags.recursionAvailable)
        #expect(message.header.flags.rcode == .noError)
        #expect(message.questions == [DNSQuestion(name: DNSName("example.com")!, type: .a)])
        #expect(message.answers == [.a(DNSName("example.com")!, ttl: 300, IPv4Address(192, 0, 2, 1))])
    }

    @Test func N5_encodesWithCompressionExactly() throws {
        // Building the same message must give the same bytes: question name at 12, owner as pointer C0 0C.
        let message = try DNSMessage(parsing: Self.aResponse)
        #expect(message.encoded() == Self.aResponse)
        // Without compression the owner name is spelled out: 13 bytes instead of 2.
        #expect(message.encoded(compress: false).count == Self.aResponse.count + 11)
        #expect(try DNSMessage(parsing: message.encoded(compress: false)) == message)
    }

    @Test func N5_roundTripsEveryRecordKind() throws {
        let owner = DNSName("www.example.com")!
        let soa = SOAData(
            mname: DNSName("ns.example.com")!, rname: DNSName("hostmaster.example.com")!, serial: 1, refresh: 2,
            retry: 3, expire: 4, minimum: 5)
        let message = DNSMessage(
            header: DNSHeader(id: 7, flags: DNSHeader.Flags(rawValue: 0x8580)),
            questions: [DNSQuestion(name: owner, type: .aaaa)],
            answers: [
                .cname(owner, ttl: 10, target: DNSName("web.example.com")!),
                .aaaa(DNSName("web.example.com")!, ttl: 20, IPv6Address("2001:db8::1")!),
                .a(DNSName("web.example.com")!, ttl: 30, IPv4Address(198, 51, 100, 7)),
                DNSResourceRecord(name: owner, type: .mx, ttl: 40, rdata: .mx(preference: 10, exchange: owner)),
                DNSResourceRecord(name: owner, type: .dname, ttl: 50, rdata: .name(DNSName("other.example")!)),
                DNSResourceRecord(
                    name: owner, type: DNSRecordType(rawValue: 65280), rrClass: .chaos, ttl: 60, rdata: .opaque([1, 2, 3])),
            ],
            authorities: [.soa(DNSName("example.com")!, ttl: 3600, soa)],
            additionals: [EDNSInfo(udpPayloadSize: 1232, dnssecOK: true).record])
        for compress in [true, false] {
            let bytes = message.encoded(compress: compress)
            let parsed = try DNSMessage(parsing: bytes)
            #expect(parsed == message)
            #expect(parsed.encoded(compress: compress) == bytes)
        }
        #expect(message.encoded().count < message.encoded(compress: false).count)
        #expect(message.edns == EDNSInfo(udpPayloadSize: 1232, dnssecOK: true))
    }

    @Test func N5_dnameTargetNeverCompressed() {
        // RFC 6672 §2.5: the DNAME target stays in full even if the name was written before.
        let name = DNSName("example.com")!
        let message = DNSMessage(
            header: DNSHeader(id: 1), questions: [DNSQuestion(name: name, type: .a)],
            answers: [DNSResourceRecord(name: name, type: .dname, ttl: 1, rdata: .name(name))])
        let bytes = message.encoded()
        #expect(Array(bytes.suffix(13)) == Bytes.name("example.com"))
    }

    @Test func N5_countBeyondMessageRefused() {
        // ANCOUNT 2 with one answer: fits the minimum-size bound (5 + 2 × 11 ≤ 33), fails on the second record.
        var bytes = Self.aResponse
        bytes[7] = 2
        #expect(throws: DNSWireError(.truncated, "")) { try DNSMessage(parsing: bytes) }
        // ANCOUNT 3: 5 + 3 × 11 = 38 > 33 bytes after the header, refused before any record is read.
        bytes[7] = 3
        #expect(throws: DNSWireError(.countBeyondMessage, "")) { try DNSMessage(parsing: bytes) }
        bytes[4] = 0xFF
        bytes[5] = 0xFF
        #expect(throws: DNSWireError(.countBeyondMessage, "")) { try DNSMessage(parsing: bytes) }
        // Small counts that still run past the end: parsed until the bytes run out.
        let cut = Array(Self.aResponse.dropLast(3))
        #expect(throws: DNSWireError(.truncated, "")) { try DNSMessage(parsing: cut) }
    }

    @Test func N5_trailingBytesAndShortHeaderRefused() {
        #expect(throws: DNSWireError(.trailingBytes, "")) { try DNSMessage(parsing: Self.aResponse + [0]) }
        #expect(throws: DNSWireError(.truncated, "")) { try DNSMessage(parsing: Array(Self.aResponse.prefix(11))) }
    }

    @Test func N5_badRDataRefused() {
        // A record with RDLENGTH 5.
        var bytes = Array(Self.aResponse.dropLast(6)) + [0x00, 0x05, 192, 0, 2, 1, 9]
        #expect(throws: DNSWireError(.badRData, "")) { try DNSMessage(parsing: bytes) }
        // CNAME whose target runs past RDLENGTH (RDLENGTH 2, name needs 3).
        bytes = Bytes.header(id: 1, flags: 0x8180, qd: 0, an: 1) + Bytes.record("a", type: Bytes.typeCNAME, ttl: 1, rdata: [])
        bytes = Array(bytes.dropLast(2)) + [0x00, 0x02, 0x01, 0x62, 0x00]
        #expect(throws: DNSWireError.self) { try DNSMessage(parsing: bytes) }
    }

    /// Fuzz-style: mutate valid messages and feed random bytes. Nothing may trap, and whatever parses must
    /// round-trip (parse → encode → parse gives the same message).
    @Test func N5_mutatedInputNeverCrashesAndRoundTrips() throws {
        let seeds: [[UInt8]] = [
            Self.aResponse,
            Bytes.header(id: 9, flags: 0x8183, an: 0, ns: 1) + Bytes.question("a.example", type: 28)
                + Bytes.recordAtQName(type: Bytes.typeSOA, ttl: 60, rdata: Bytes.soaRData(minimum: 30)),
            Bytes.header(id: 9, flags: 0x0100, ar: 1) + Bytes.question("example.org", type: 28) + Bytes.opt(size: 4096),
        ]
        var rng = SplitMix(state: 0x5EED)
        var parsedCount = 0
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 10 == 0 {
                bytes = (0..<Int.random(in: 0..<80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                bytes = seeds[round % seeds.count]
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let i = Int.random(in: 0..<bytes.count, using: &rng)
                    bytes[i] = UInt8.random(in: 0...255, using: &rng)
                }
                if round % 7 == 0 { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &rng)) }
            }
            guard let message = try? DNSMessage(parsing: bytes) else { continue }
            parsedCount += 1
            #expect(try DNSMessage(parsing: message.encoded()) == message)
            #expect(try DNSMessage(parsing: message.encoded(compress: false)) == message)
        }
        #expect(parsedCount > 1000)  // the mutations must not all be rejected, or this tests nothing
    }
}
