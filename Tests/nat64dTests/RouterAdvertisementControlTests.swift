// `ctl ra [--json]`, `ctl stats --json` and the RA metrics, from a status snapshot (no socket needed).
import Forwarding
import Foundation
import NAT64Translator
import Testing
@testable import RouterAdvertisement
@testable import nat64d

struct RouterAdvertisementControlTests {
    static func status() -> RouterAdvertiser.Status {
        var settings = AdvertisementSettings()
        settings.maxInterval = 10
        settings.mtu = 1500
        settings.rdnss = [IPv6Address("2001:db8:1::1")!]
        settings.pref64 = NAT64Prefix("2001:db8:64::/96")!
        settings.pref64Lifetime = 601
        settings.sourceLinkLayerAddress = [0x02, 0, 0, 0, 0x0a, 0x01]
        settings.prefixes = [PrefixInformation(prefix: IPv6Prefix("2001:db8:1::/64")!)]
        var counters = RACounters()
        counters.sent = 5
        counters.malformed[.hopLimit] = 2
        return RouterAdvertiser.Status(name: "eth1", settings: settings, counters: counters, nextIn: 2_500_000_000)
    }

    @Test func raJSONShowsWhatIsAnnounced() throws {
        let text = ControlCommands.encode(["interfaces": [RAStatusReport(Self.status())]])
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        let interface = try #require((object?["interfaces"] as? [[String: Any]])?.first)
        #expect(interface["name"] as? String == "eth1")
        #expect(interface["pref64"] as? String == "2001:db8:64::/96")
        #expect(interface["pref64-lifetime"] as? Int == 608)
        #expect(interface["rdnss"] as? [String] == ["2001:db8:1::1"])
        #expect(interface["rdnss-lifetime"] as? Int == 30)
        #expect(interface["router-lifetime"] as? Int == 30)
        #expect(interface["min-interval"] as? Int == 3)
        #expect(interface["source-link-layer-address"] as? String == "02:00:00:00:0a:01")
        #expect(interface["next-advertisement-ms"] as? Int == 2500)
        let counters = try #require(interface["counters"] as? [String: Int])
        #expect(counters["sent"] == 5 && counters["malformed-dropped"] == 2 && counters["malformed-dropped.hop-limit"] == 2)
    }

    @Test func statsJSONCarriesTheRACountersPerInterface() throws {
        var total = ForwarderStats()
        total.counters.translated6to4 = 7
        let text = StatsReport(total: total, queues: [total], capture: false, dns: nil, ra: [Self.status()]).json
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["translated-6to4"] as? Int == 7)
        let ra = try #require(object["ra"] as? [String: [String: Int]])
        #expect(ra["eth1"]?["sent"] == 5 && ra["eth1"]?["malformed-dropped"] == 2)
    }

    @Test func raMetricsPerInterface() {
        let samples = MetricsExporter.raSamples([Self.status()])
        let sent = samples.first { $0.name == "nat64d_ra_sent_total" }
        #expect(sent?.value == 5 && sent?.labels.first?.1 == "eth1")
        let hop = samples.first { $0.name == "nat64d_ra_malformed_dropped_total" && $0.labels.contains { $0 == ("reason", "hop-limit") } }
        #expect(hop?.value == 2)
    }
}
