// RFC 4861 §6.1.1/§6.1.2 checks of received solicitations and advertisements.

import NAT64Translator
import PacketTestSupport
import Testing

@testable import RouterAdvertisement

@Suite struct InputValidationTests {
    let linkLocal = IPv6Address("fe80::2")!
    let rs: [UInt8] = [133, 0, 0, 0, 0, 0, 0, 0]

    @Test func RA12_validSolicitations() {
        #expect(NDInput.classify(rs, source: linkLocal, hopLimit: 255) == .solicitation)
        // With a Source Link-Layer Address option from a real source.
        #expect(NDInput.classify(rs + [1, 1, 2, 0, 0, 0, 0, 1], source: linkLocal, hopLimit: 255) == .solicitation)
        // From the unspecified address without one.
        #expect(NDInput.classify(rs, source: .unspecified, hopLimit: 255) == .solicitation)
    }

    @Test func RA12_invalidSolicitationsAreDroppedByReason() {
        #expect(NDInput.classify(rs, source: linkLocal, hopLimit: 254) == .dropped(.hopLimit))
        #expect(NDInput.classify(rs, source: linkLocal, hopLimit: nil) == .dropped(.hopLimit))
        #expect(NDInput.classify([133, 1, 0, 0, 0, 0, 0, 0], source: linkLocal, hopLimit: 255) == .dropped(.code))
        #expect(NDInput.classify(Array(rs.prefix(7)), source: linkLocal, hopLimit: 255) == .dropped(.tooShort))
        #expect(NDInput.classify(rs + [1, 0, 0, 0, 0, 0, 0, 0], source: linkLocal, hopLimit: 255) == .dropped(.badOption))
        #expect(NDInput.classify(rs + [1, 2, 0, 0, 0, 0, 0, 0], source: linkLocal, hopLimit: 255) == .dropped(.badOption))
        #expect(NDInput.classify(rs + [1], source: linkLocal, hopLimit: 255) == .dropped(.badOption))
        #expect(NDInput.classify(rs + [1, 1, 2, 0, 0, 0, 0, 1], source: .unspecified, hopLimit: 255)
            == .dropped(.unspecifiedSourceWithLinkLayerAddress))
        #expect(NDInput.classify([135, 0, 0, 0, 0, 0, 0, 0], source: linkLocal, hopLimit: 255) == .dropped(.unexpectedType))
        #expect(NDInput.classify([], source: linkLocal, hopLimit: 255) == .dropped(.tooShort))
    }

    @Test func RA13_advertisementsFromOtherRouters() {
        let ra = RouterAdvertisementMessage.build(AdvertisementSettings())
        #expect(NDInput.classify(ra, source: linkLocal, hopLimit: 255) == .advertisement)
        #expect(NDInput.classify(ra, source: IPv6Address("2001:db8:1::1")!, hopLimit: 255) == .dropped(.sourceNotLinkLocal))
        #expect(NDInput.classify(Array(ra.prefix(15)), source: linkLocal, hopLimit: 255) == .dropped(.tooShort))
        #expect(NDInput.classify(ra, source: linkLocal, hopLimit: 64) == .dropped(.hopLimit))
    }
}

@Suite struct InputGarbageTests {
    /// RA12, RA13: random bytes (seeded, so a failure reproduces) never trap; whatever is accepted really has
    /// hop limit 255, code 0, the fixed part, and options that tile the rest exactly.
    @Test func RA12_randomInputIsClassifiedWithoutTrapping() {
        var random = SplitMix64(seed: 0x7261_6e64)
        var accepted = 0
        for _ in 0..<20_000 {
            var message: [UInt8]
            if random.next() % 2 == 0 {
                // Pure garbage.
                message = (0..<Int(random.next() % 48)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            } else {
                // A well-formed RS or RA with up to three options, then maybe one byte changed or cut off.
                let type: UInt8 = random.next() % 2 == 0 ? 133 : 134
                message = [type, 0] + [UInt8](repeating: 0, count: type == 133 ? 6 : 14)
                for _ in 0..<random.next() % 4 {
                    let units = Int(1 + random.next() % 2)
                    message += [UInt8(truncatingIfNeeded: random.next()), UInt8(units)] + [UInt8](repeating: 7, count: units * 8 - 2)
                }
                switch random.next() % 4 {
                case 0: message[Int(random.next() % UInt64(message.count))] = UInt8(truncatingIfNeeded: random.next())
                case 1: message.removeLast(Int(random.next() % UInt64(message.count)))
                default: break
                }
            }
            let hopLimit: Int? = random.next() % 4 == 0 ? nil : (random.next() % 2 == 0 ? 255 : Int(random.next() % 256))
            let source = random.next() % 2 == 0 ? IPv6Address("fe80::1")! : IPv6Address(high: random.next(), low: random.next())
            let verdict = NDInput.classify(message, source: source, hopLimit: hopLimit)
            guard verdict == .solicitation || verdict == .advertisement else { continue }
            accepted += 1
            #expect(hopLimit == 255 && message[1] == 0)
            var offset = verdict == .solicitation ? 8 : 16
            while offset < message.count {
                #expect(message[offset + 1] > 0)
                offset += Int(message[offset + 1]) * 8
            }
            #expect(offset == message.count)
        }
        #expect(accepted > 1000, "the generator reaches the accepting paths")
    }
}
