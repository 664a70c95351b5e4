import NAT64Translator
import Testing

@testable import GatewayConfig

/// `config/nat64d.toml` in this repository, found from this file's path (Tests/GatewayConfigTests/…).
let samplePath: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return (parts + ["config", "nat64d.toml"]).joined(separator: "/")
}()

@Suite struct SampleConfigTests {
    @Test func sampleLoadsWithTheValuesItDocuments() throws {
        let config = try GatewayConfiguration.load(path: samplePath)
        #expect(config.tun == .init(name: "nat64", mtu: 1500))
        #expect(config.translator.prefix == NAT64Prefix.wellKnown)
        #expect(config.translator.pool4 == [IPv4Prefix("192.0.2.1")!, IPv4Prefix("203.0.113.0/28")!])
        #expect(config.gateway.ipv6 == IPv6Address("2001:db8:1::1")!)
        #expect(config.dns64.enabled)
        #expect(config.dns64.upstreams == [.init(host: .v4(IPv4Address(198, 51, 100, 10)), port: 53)])
        #expect(config.dns64.allow.count == 3)
        #expect(config.log.level == "info")
    }

    /// The sample leaves each optional key at its default, so it must agree with `Defaults`.
    @Test func sampleStatesTheDefaults() throws {
        let config = try GatewayConfiguration.load(path: samplePath)
        #expect(config.tun.mtu == Defaults.mtu)
        #expect(config.tun.name == Defaults.tunName)
        #expect(config.translator.udpTimeout == Defaults.udpTimeout)
        #expect(config.translator.tcpEstablishedTimeout == Defaults.tcpEstablishedTimeout)
        #expect(config.translator.tcpTransitoryTimeout == Defaults.tcpTransitoryTimeout)
        #expect(config.translator.icmpTimeout == Defaults.icmpTimeout)
        #expect(config.translator.maxSessions == Defaults.maxSessions)
        #expect(config.dns64.timeoutMilliseconds == Defaults.dnsTimeoutMilliseconds)
        #expect(config.log.level == Defaults.logLevel)
        #expect(config.capture == .init(enabled: false, directory: Defaults.captureDirectory, filter: "",
                                        maxSizeMB: Defaults.captureMaxSizeMB, maxFiles: Defaults.captureMaxFiles))
        #expect(config.control.socket == "/run/nat64d/nat64.sock")
    }

    /// Every key of the schema appears in the sample, set or as a commented default (`# key = default`), with
    /// a comment above it that names it.
    @Test func sampleDocumentsEveryKey() throws {
        let text = String(decoding: try ConfigFile.readAll(path: samplePath), as: UTF8.self)
        for (section, keys) in ConfigReader.schema {
            #expect(text.contains("[\(section)]\n"), "section [\(section)]")
            for key in keys {
                #expect(text.contains("\n\(key) = ") || text.contains("\n# \(key) = "),
                        "key \(section).\(key) is set or shown as a commented default")
                #expect(text.contains("# \(key): "), "key \(section).\(key) is explained")
            }
        }
    }

    /// The commented defaults are the defaults: uncommenting them all gives the same configuration, so the
    /// sample never shows a value nat64d would not use. Aside: state-dir (no default), and mapped and
    /// rfc6791-source, whose defaults ("every address", "gateway.ipv4") the sample spells out as the value.
    @Test func commentedDefaultsAreTheDefaults() throws {
        let text = String(decoding: try ConfigFile.readAll(path: samplePath), as: UTF8.self)
        let keys = Set(ConfigReader.schema.flatMap(\.keys)).subtracting(["state-dir", "mapped", "rfc6791-source"])
        var uncommented: [Substring] = []
        var inRAExample = false
        var defaults = 0
        var inStatelessExamples = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# [ra.") { inRAExample = true }
            // The SIIT-DC and CLAT examples are whole files of their own, not defaults: skip to their block's end.
            if line.hasPrefix("# Stateless translation examples") { inStatelessExamples = true }
            if inStatelessExamples && !line.hasPrefix("#") { inStatelessExamples = false }
            if !inRAExample, !inStatelessExamples, line.hasPrefix("# "), let eq = line.firstRange(of: " = "),
               keys.contains(String(line[line.index(line.startIndex, offsetBy: 2)..<eq.lowerBound])) {
                uncommented.append(line.dropFirst(2))
                defaults += 1
            } else {
                uncommented.append(line)
            }
        }
        #expect(defaults > 40, "the sample shows its defaults as `# key = value`")
        let plain = try GatewayConfiguration.load(path: samplePath)
        let explicit = try GatewayConfiguration.parse(uncommented.joined(separator: "\n"), file: "uncommented.toml")
        #expect(explicit == plain)
    }

    /// Random edits of the sample go through the whole pipeline (TOML, schema, address parsing, cross-checks)
    /// and must give a configuration or errors with a line, never a trap. Seeded, so a failure reproduces.
    @Test func mutatedSamplesGiveAConfigurationOrAnError() throws {
        let sample = try ConfigFile.readAll(path: samplePath)
        let alphabet = Array("[]{}\"'=,.:/#\n\\0123456789abcdefx_-".utf8)
        var rng = SplitMix64(seed: 0x636f_6e66_6967)
        var rejected = 0
        for _ in 0..<300 {
            var bytes = sample
            for _ in 0..<(1 + rng.next() % 6) {
                let i = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes.remove(at: i)
                default: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: i)
                }
            }
            if case .invalid(let errors) = GatewayConfiguration.decode(bytes: bytes, file: "fuzz.toml") {
                rejected += 1
                #expect(errors.allSatisfy { $0.line >= 1 && !$0.message.isEmpty })
            }
        }
        #expect(rejected > 30, "most edits outside comments break something")
    }

    @Test func missingFileGivesLineZeroAndErrnoText() throws {
        let path = samplePath + ".does-not-exist"
        let error = try #require(throws: ConfigError.self) { try GatewayConfiguration.load(path: path) }
        #expect(error.file == path)
        #expect(error.line == 0)
        #expect(error.code == .unreadableFile)
        #expect(error.description.hasPrefix("\(path):0: "))
        #expect(error.message.contains("No such file or directory"))
    }

    @Test func directoryIsUnreadable() throws {
        let error = try #require(throws: ConfigError.self) { try GatewayConfiguration.load(path: "/") }
        #expect(error.line == 0)
        #expect(error.message.contains("Is a directory"))
    }
}
