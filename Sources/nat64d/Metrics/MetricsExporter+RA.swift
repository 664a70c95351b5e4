// The router advertisement counters as metrics, one series per interface (label `interface`).
import RouterAdvertisement

extension MetricsExporter {
    static func raSamples(_ interfaces: [RouterAdvertiser.Status]) -> [Sample] {
        interfaces.flatMap { status -> [Sample] in
            let c = status.counters
            let label = [("interface", status.name)]
            func counter(_ name: String, _ value: Int, _ help: String, _ extra: [(String, String)] = []) -> Sample {
                Sample.counter(name, value, help, label + extra)
            }
            return [
                counter("nat64d_ra_sent_total", c.sent, "Router advertisements sent."),
                counter("nat64d_ra_send_errors_total", c.sendErrors, "Router advertisements the kernel refused."),
                counter("nat64d_ra_solicitations_total", c.solicitations, "Valid router solicitations received."),
                counter("nat64d_ra_solicitations_answered_total", c.solicitationsAnswered,
                        "Router solicitations that brought an advertisement forward."),
                counter("nat64d_ra_solicitations_rate_limited_total", c.rateLimited,
                        "Router solicitations answered by an advertisement already due (RFC 4861 6.2.6)."),
                counter("nat64d_ra_other_advertisements_total", c.otherAdvertisements,
                        "Valid router advertisements of other routers heard."),
            ] + NDInputDrop.allCases.map {
                counter("nat64d_ra_malformed_dropped_total", c.malformed[$0] ?? 0,
                        "Received router solicitations and advertisements dropped, by reason.", [("reason", $0.rawValue)])
            }
        }
    }
}
