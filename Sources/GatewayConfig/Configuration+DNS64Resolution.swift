// `[dns64]` keys of the resolution rules D13 (RD=0 handling) and D16 (the client deadline), and the default of
// `udp-sockets` (one per CPU). Kept apart from Configuration+Schema.swift so the reader there stays as it was.
import NAT64Translator

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension GatewayConfiguration {
    /// How queries with RD=0 are handled (key `dns64.rd0`, D13; RFC 1034 §4.3.1).
    public enum RD0Handling: String, CaseIterable, Sendable, Equatable {
        /// Answered from the cache only, never sent upstream (the default; BIND's dns64 behaves alike).
        case cacheOnly = "cache-only"
        /// Resolved upstream like any other query.
        case recurse
    }
}

extension Defaults {
    /// `udp-sockets` when absent: the CPUs online, 1...64 (each socket gets its own event loop).
    static var dnsUDPSockets: Int {
        min(64, max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
    }
}

extension ConfigReader {
    /// `readDNS64`, then the keys below.
    mutating func readDNS64AndResolution(_ s: Section, translatorPrefix: NAT64Prefix?) -> GatewayConfiguration.DNS64? {
        guard var dns64 = readDNS64(s, translatorPrefix: translatorPrefix) else { return nil }
        return readDNS64Resolution(s, into: &dns64) ? dns64 : nil
    }

    /// Reads `rd0` (D13) and `deadline-ms` (D16) into `dns64`; false when either is invalid (reported).
    /// - Parameters:
    ///   - s: the `[dns64]` section.
    ///   - dns64: the section read so far (its `timeoutMilliseconds` gives the deadline's default).
    mutating func readDNS64Resolution(_ s: Section, into dns64: inout GatewayConfiguration.DNS64) -> Bool {
        let fallback = GatewayConfiguration.RD0Handling.cacheOnly
        var rd0: GatewayConfiguration.RD0Handling? = fallback
        if let text = string(s, "rd0", example: "\"\(fallback.rawValue)\"") {
            let names = GatewayConfiguration.RD0Handling.allCases.map { "\"\($0.rawValue)\"" }
            rd0 = convert(text, label: s.path("rd0")) { (v: String) -> Result<GatewayConfiguration.RD0Handling, Problem> in
                GatewayConfiguration.RD0Handling(rawValue: v).map { .success($0) }
                    ?? .failure(Problem("is not one of " + names.joined(separator: ", ")))
            }
        } else if s["rd0"] != nil {
            rd0 = nil
        }
        let deadline = integer(s, "deadline-ms", default: 2 * dns64.timeoutMilliseconds,
                               IntegerRule(range: 100...60_000, unit: " milliseconds"))
        guard let rd0, let deadline else { return false }
        dns64.rd0 = rd0
        dns64.deadlineMilliseconds = deadline
        return true
    }
}
