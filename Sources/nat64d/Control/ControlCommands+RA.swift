// `ctl ra [--json]`: what each [ra.IFNAME] interface announces and its counters; the RA counters in `ctl stats`
// (`ra_*{interface="IFNAME"}` lines, and `"ra": {IFNAME: {COUNTER: N}}` in `ctl stats --json`).
import FoundationEssentials
import RouterAdvertisement

extension ControlCommands {
    func routerAdvertisements(json: Bool) -> ControlReply {
        let status = (ra?.status() ?? []).map(RAStatusReport.init)
        if json { return .json(["interfaces": status]) }
        guard !status.isEmpty else { return .text(["no [ra.IFNAME] section: not sending router advertisements"]) }
        return .text(status.flatMap(\.lines))
    }

    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Strings and integers only: encoding cannot fail.
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// One interface of `ctl ra`, as JSON and as text.
struct RAStatusReport: Encodable {
    struct Prefix: Encodable {
        var prefix: String
        var validLifetime: Int
        var preferredLifetime: Int
        enum CodingKeys: String, CodingKey {
            case prefix, validLifetime = "valid-lifetime", preferredLifetime = "preferred-lifetime"
        }
    }

    var name: String
    var maxInterval: Int
    var minInterval: Int
    var routerLifetime: Int
    var routerPreference: String
    var hopLimit: Int
    var mtu: Int?
    var sourceLinkLayerAddress: String?
    var prefixInformation: [Prefix]
    var rdnss: [String]
    var rdnssLifetime: Int
    var dnssl: [String]
    var dnsslLifetime: Int
    var pref64: String?
    var pref64Lifetime: Int
    var nextAdvertisementMilliseconds: Int
    var counters: [String: Int]

    enum CodingKeys: String, CodingKey {
        case name, maxInterval = "max-interval", minInterval = "min-interval", routerLifetime = "router-lifetime"
        case routerPreference = "router-preference", hopLimit = "hop-limit", mtu
        case sourceLinkLayerAddress = "source-link-layer-address", prefixInformation = "prefix-information"
        case rdnss, rdnssLifetime = "rdnss-lifetime", dnssl, dnsslLifetime = "dnssl-lifetime", pref64
        case pref64Lifetime = "pref64-lifetime", nextAdvertisementMilliseconds = "next-advertisement-ms", counters
    }

    init(_ status: RouterAdvertiser.Status) {
        let s = status.settings
        name = status.name
        maxInterval = s.maxInterval
        minInterval = s.effectiveMinInterval
        routerLifetime = s.effectiveRouterLifetime
        routerPreference = s.preference.rawValue
        hopLimit = Int(s.curHopLimit)
        mtu = s.mtu.map(Int.init)
        sourceLinkLayerAddress = s.sourceLinkLayerAddress.map {
            $0.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
                .joined(separator: ":")
        }
        prefixInformation = s.prefixes.map {
            Prefix(prefix: "\($0.prefix)", validLifetime: Int($0.validLifetime), preferredLifetime: Int($0.preferredLifetime))
        }
        rdnss = s.rdnss.map(\.description)
        rdnssLifetime = s.effectiveRDNSSLifetime
        dnssl = s.dnssl
        dnsslLifetime = s.effectiveDNSSLLifetime
        pref64 = s.pref64.map(\.description)
        pref64Lifetime = s.effectivePref64Lifetime
        nextAdvertisementMilliseconds = Int(status.nextIn / 1_000_000)
        counters = Dictionary(uniqueKeysWithValues: status.counters.fields.map { ($0.name, $0.value) })
    }

    /// The text form: the interface, then indented `key value` lines.
    var lines: [String] {
        var out = ["interface \(name)",
                   "  router-lifetime \(routerLifetime) preference \(routerPreference) hop-limit \(hopLimit)",
                   "  interval \(minInterval)-\(maxInterval)s next in \(nextAdvertisementMilliseconds / 1000)s"]
        if let mtu { out.append("  mtu \(mtu)") }
        for p in prefixInformation {
            out.append("  prefix-information \(p.prefix) valid \(p.validLifetime) preferred \(p.preferredLifetime)")
        }
        out.append(rdnss.isEmpty ? "  rdnss none" : "  rdnss \(rdnss.joined(separator: " ")) lifetime \(rdnssLifetime)")
        if !dnssl.isEmpty { out.append("  dnssl \(dnssl.joined(separator: " ")) lifetime \(dnsslLifetime)") }
        out.append(pref64.map { "  pref64 \($0) lifetime \(pref64Lifetime)" } ?? "  pref64 none")
        let c = counters
        out.append("  sent \(c["sent"] ?? 0) solicitations \(c["solicitations"] ?? 0) answered "
            + "\(c["solicitations-answered"] ?? 0) rate-limited \(c["rate-limited"] ?? 0) malformed "
            + "\(c["malformed-dropped"] ?? 0) send-errors \(c["send-errors"] ?? 0)")
        return out
    }
}
