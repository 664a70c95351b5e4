// IP-T1–IP-T5: the SNI of a ClientHello, however it is cut into records and segments, and every refusal.
import Testing

@testable import InboundProxy

@Suite struct ClientHelloTests {
    @Test func ipT5_serverNameIsFoundLowerCasedWithoutTrailingDot() {
        let bytes = records(clientHelloMessage(serverName: "Site-A.Example."))
        #expect(ClientHello.parse(bytes) == .serverName("site-a.example"))
    }

    @Test func ipT4_serverNameAfterOtherExtensions() {
        let hello = clientHelloMessage(serverName: "b.example", otherExtensions: [(10, [0, 2, 0, 29]), (16, [0, 3, 2, 104, 50])])
        #expect(ClientHello.parse(records(hello)) == .serverName("b.example"))
    }

    @Test func ipT4_absentServerNameIsNoServerName() {
        #expect(ClientHello.parse(records(clientHelloMessage(serverName: nil, otherExtensions: [(10, [0, 2, 0, 29])])))
            == .noServerName)
        // A ClientHello with no extensions block at all.
        var bare = clientHelloMessage(serverName: nil)
        bare.removeLast(2)  // the empty extensions length
        bare[1...3] = be24(bare.count - 4)[...]
        #expect(ClientHello.parse(records(bare)) == .noServerName)
    }

    @Test func ipT2_everyPrefixOfTheBytesNeedsMore() {
        let bytes = records(clientHelloMessage(serverName: "split.example"))
        for cut in 0..<bytes.count {
            #expect(ClientHello.parse(bytes[..<cut]) == .needMore, "cut at \(cut)")
        }
        #expect(ClientHello.parse(bytes) == .serverName("split.example"))
    }

    @Test func ipT2_messageAcrossSeveralRecords() {
        let message = clientHelloMessage(serverName: "records.example", padding: 300)
        for size in [7, 100] {
            let bytes = records(message, recordSize: size)
            #expect(ClientHello.parse(bytes) == .serverName("records.example"), "records of \(size)")
            #expect(ClientHello.parse(bytes.dropLast()) == .needMore)
        }
    }

    @Test func ipT2_bytesAfterTheMessageAreIgnored() {
        let bytes = records(clientHelloMessage(serverName: "a.example")) + [0x17, 0x03, 0x03, 0x00, 0x01, 0x00]
        #expect(ClientHello.parse(bytes) == .serverName("a.example"))
    }

    @Test func ipT1_otherProtocolsAreRefusedFromTheFirstBytes() {
        #expect(ClientHello.parse(Array("GET / HTTP/1.1\r\n".utf8)) == .invalid("not a TLS handshake record"))
        #expect(ClientHello.parse([0x16, 0x02, 0x00, 0x00, 0x10]) == .invalid("not TLS (record version 2.x)"))
        #expect(ClientHello.parse([0x16, 0x03, 0x01, 0x00, 0x00]) == .invalid("record length 0 outside 1...16384"))
        #expect(ClientHello.parse([0x16, 0x03, 0x01, 0x40, 0x01]) == .invalid("record length 16385 outside 1...16384"))
        // A ServerHello (type 2) is not a ClientHello.
        var server = clientHelloMessage(serverName: "x.example")
        server[0] = 2
        #expect(ClientHello.parse(records(server)) == .invalid("first handshake message is not a ClientHello"))
    }

    @Test func ipT1_malformedLengthsAreRefused() {
        // The server_name list says one byte more than the extension holds.
        var hello = clientHelloMessage(serverName: "x.example")
        let nameList = hello.count - "x.example".utf8.count - 5
        hello[nameList + 1] += 1
        #expect(ClientHello.parse(records(hello)) == .invalid("server_name list length does not match the extension"))
        // The extensions length runs past the message.
        var long = clientHelloMessage(serverName: "x.example")
        let extensionsAt = 4 + 2 + 32 + 33 + 6 + 2
        long[extensionsAt + 1] &+= 9
        #expect(ClientHello.parse(records(long)) == .invalid("extensions length does not match the message"))
        // The message ends inside the cipher suites.
        let short = Array(clientHelloMessage(serverName: nil).prefix(4 + 2 + 32 + 33 + 3))
        var truncated = short
        truncated[1...3] = be24(short.count - 4)[...]
        #expect(ClientHello.parse(records(truncated)) == .invalid("truncated ClientHello"))
    }

    @Test func ipT5_namesThatAreNotHostNamesAreRefused() {
        for bad in ["a b.example", "", "a..example", ".a.example", "caf\u{e9}.example", String(repeating: "a", count: 254)] {
            #expect(ClientHello.parse(records(clientHelloMessage(serverName: bad)))
                == .invalid("server name is not a DNS host name"), "\(bad)")
        }
    }

    @Test func ipT3_oversizedMessageIsRefusedAsSoonAsItsLengthIsKnown() {
        let big = clientHelloMessage(serverName: "big.example", padding: 20_000)
        let bytes = records(big)
        #expect(ClientHello.parse(bytes.prefix(9)) == .tooLarge)
        #expect(ClientHello.parse(bytes) == .tooLarge)
        #expect(ClientHello.parse(bytes, maxBytes: 32_768) == .serverName("big.example"))
    }

    @Test func ipT6_bytesWantedSkipsParsesUntilARecordIsWhole() {
        let bytes = records(clientHelloMessage(serverName: "w.example"), recordSize: 50)
        #expect(ClientHello.bytesWanted([UInt8]()) == 5)
        #expect(ClientHello.bytesWanted(bytes.prefix(3)) == 5)
        #expect(ClientHello.bytesWanted(bytes.prefix(10)) == 55)
        #expect(ClientHello.bytesWanted(bytes.prefix(55)) == 60)
        #expect(ClientHello.bytesWanted(bytes.prefix(57)) == 60)
        #expect(ClientHello.bytesWanted(bytes.prefix(60)) == bytes.count)  // the second record is the last
        // Parsing only at those lengths reaches the same answer as parsing after every byte.
        var have = 0
        var result = ClientHelloResult.needMore
        while result == .needMore && have < bytes.count {
            have = min(bytes.count, max(have + 1, ClientHello.bytesWanted(bytes.prefix(have))))
            result = ClientHello.parse(bytes.prefix(have))
        }
        #expect(result == .serverName("w.example"))
        #expect(have == bytes.count)
    }

    @Test func ipT6_moreThan64RecordsIsRefused() {
        let bytes = records(clientHelloMessage(serverName: "r.example", padding: 100), recordSize: 2)
        #expect(ClientHello.parse(bytes) == .invalid("ClientHello spread over more than 64 records"))
        #expect(ClientHello.bytesWanted(bytes) == bytes.count)
        // 53 records of 2 bytes are still accepted.
        #expect(ClientHello.parse(records(clientHelloMessage(serverName: "r.example"), recordSize: 2)) == .serverName("r.example"))
    }
}
