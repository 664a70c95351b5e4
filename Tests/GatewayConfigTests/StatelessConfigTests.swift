// The [translator] keys of stateless translation (F1, F7, F14, E1): mode = "siit" without pool4, EAM entries of
// any length, map lines as EAM entries, the RFC 7915 options and the RFC 6791 pools.
import NAT64Translator
import Testing

@testable import GatewayConfig

let siitConfig = """
    [translator]
    prefix = "2001:db8:64::/96"
    mode = "siit"
    eam = ["2001:db8:a::a00:0/104 10.0.0.0/8"]
    map = ["2001:db8:2::80 203.0.113.80"]
    traffic-class = "zero"
    udp-zero-checksum = "drop"
    rfc6791-pool4 = "192.0.2.128/28"
    rfc6791-pool6 = "2001:db8:ffff::/96"

    [gateway]
    ipv4 = "192.0.2.1"
    ipv6 = "2001:db8:64::c000:201"
    """

@Suite struct StatelessConfigTests {
    @Test("F1 F14 E1: siit mode without pool4, a /8 EAM entry, map as EAM, options and RFC 6791 pools")
    func test_F1_siitKeys() throws {
        let t = try GatewayConfiguration.parse(siitConfig, file: "siit.toml").translator
        #expect(t.mode == .siit && t.pool4Addresses.isEmpty)
        let s = t.stateConfiguration
        #expect(s.mode == .siit && s.staticMappings.isEmpty && s.eam.count == 2)
        #expect(s.eam[1].inside == IPv6Prefix("2001:db8:2::80/128")! && s.eam[1].outside == IPv4Prefix("203.0.113.80/32")!)
        #expect(t.stateless.trafficClass == .zero && t.stateless.udpZeroChecksum == .drop)
        #expect(t.stateless.rfc6791Pool4 == IPv4Prefix("192.0.2.128/28")! && t.stateless.rfc6791Pool6 == IPv6Prefix("2001:db8:ffff::/96")!)
        // Routes: the prefix into the TUN; a CLAT routes its own mapped IPv6 addresses instead.
        #expect(t.tunIPv6Routes == [IPv6Prefix("2001:db8:64::/96")!])
        var clat = t
        clat.clat = true
        #expect(clat.tunIPv6Routes == [IPv6Prefix("2001:db8:2::80/128")!, IPv6Prefix("2001:db8:a::a00:0/104")!])
        // The defaults in every mode: copy, compute, no pools.
        let d = try GatewayConfiguration.parse(minimalConfig, file: "t.toml").translator.stateless
        #expect(d == StatelessOptions())
    }

    @Test("F1: siit refuses pool4; napt refuses EAM entries over 16 host bits and the gateway inside the prefix")
    func test_F1_siitErrors() {
        expectConfigError(siitConfig.replacingFirst("mode = \"siit\"", with: "mode = \"siit\"\npool4 = [\"192.0.2.9\"]"),
                          line: 4, mentioning: ["pool4", "siit", "eam"])
        expectConfigError(siitConfig.replacingFirst("mode = \"siit\"", with: "mode = \"napt\"\npool4 = [\"192.0.2.9\"]"),
                          line: 5, mentioning: ["24 host bits", "at most 16", "siit"])
        expectConfigError(siitConfig.replacingFirst("traffic-class = \"zero\"", with: "traffic-class = \"clear\""),
                          line: 6, mentioning: ["translator.traffic-class", "copy, zero"])
        expectConfigError(siitConfig.replacingFirst("\"drop\"", with: "\"ignore\""), line: 7, mentioning: ["compute, drop"])
        expectConfigError(siitConfig.replacingFirst("192.0.2.128/28", with: "192.0.0.0/8"), line: 8, mentioning: ["/16"])
        expectConfigError(siitConfig.replacingFirst("mode = \"siit\"", with: "mode = \"napt\"\npool4 = [\"192.0.2.9\"]\nclat = true")
            .replacingFirst("[\"2001:db8:a::a00:0/104 10.0.0.0/8\"]", with: "[]"), line: 5, mentioning: ["clat", "siit"])
        // Outside siit the gateway's IPv6 address may not sit inside the prefix.
        let napt = siitConfig.replacingFirst("mode = \"siit\"", with: "mode = \"napt\"\npool4 = [\"192.0.2.9\"]")
            .replacingFirst("[\"2001:db8:a::a00:0/104 10.0.0.0/8\"]", with: "[]")
        expectConfigError(napt, line: 14, mentioning: ["gateway.ipv6", "inside translator.prefix"])
    }
}

/// `config/nat64d.toml`, found from this file's path.
private let sampleFile: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return (parts + ["config", "nat64d.toml"]).joined(separator: "/")
}()

@Suite struct StatelessSampleTests {
    /// The commented SIIT-DC and CLAT examples at the end of the sample, uncommented, are valid files.
    @Test("F1: the sample's SIIT-DC and CLAT examples parse in siit mode")
    func test_F1_sampleExamples() throws {
        let text = String(decoding: try ConfigFile.readAll(path: sampleFile), as: UTF8.self)
        let after = text.split(separator: "# Stateless translation examples").last.map(String.init) ?? ""
        let tail = after.split(separator: "# (end of the stateless translation examples)").first.map(String.init) ?? ""
        var examples: [String] = []
        var current: [String] = []
        for line in tail.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# [translator]") && !current.isEmpty { examples.append(current.joined(separator: "\n")); current = [] }
            let words = line.split(separator: " ")
            if line.hasPrefix("# [") || (words.count >= 4 && words[0] == "#" && words[2] == "=") {
                current.append(String(line.dropFirst(2)))
            }
        }
        examples.append(current.joined(separator: "\n"))
        #expect(examples.count == 2)
        for example in examples {
            let config = try GatewayConfiguration.parse(example, file: "example.toml")
            #expect(config.translator.mode == .siit && !config.translator.stateConfiguration.eam.isEmpty)
        }
    }
}
