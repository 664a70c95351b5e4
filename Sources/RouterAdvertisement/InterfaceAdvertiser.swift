// The pure state of one advertising interface: its settings, its schedule and its counters. The sender
// (RouterAdvertiser) feeds it the time, received messages and send results; it never touches a socket.

import NAT64Translator

/// Counters of one advertising interface.
public struct RACounters: Sendable, Equatable {
    /// Advertisements sent (unsolicited, solicited and final).
    public var sent = 0
    /// Advertisements the kernel refused to send.
    public var sendErrors = 0
    /// Valid Router Solicitations received.
    public var solicitations = 0
    /// Solicitations that brought the next advertisement forward (RA11).
    public var solicitationsAnswered = 0
    /// Solicitations answered by an advertisement already due, or held back by MIN_DELAY_BETWEEN_RAS (RA11).
    public var rateLimited = 0
    /// Valid advertisements of other routers heard on the link.
    public var otherAdvertisements = 0
    /// Received messages dropped, by reason (RA12, RA13).
    public var malformed: [NDInputDrop: Int] = [:]

    public init() {}

    /// All drops of received messages.
    public var malformedTotal: Int { malformed.values.reduce(0, +) }

    /// Every counter as (name, value), in a fixed order, for `ctl stats` and metrics.
    public var fields: [(name: String, value: Int)] {
        [("sent", sent), ("send-errors", sendErrors), ("solicitations", solicitations),
         ("solicitations-answered", solicitationsAnswered), ("rate-limited", rateLimited),
         ("other-advertisements", otherAdvertisements), ("malformed-dropped", malformedTotal)]
            + NDInputDrop.allCases.map { ("malformed-dropped.\($0.rawValue)", malformed[$0] ?? 0) }
    }
}

/// One advertising interface.
public struct InterfaceAdvertiser: Sendable {
    /// The interface name.
    public let name: String
    /// What it announces.
    public private(set) var settings: AdvertisementSettings
    /// When it announces it.
    public private(set) var schedule: AdvertisementSchedule
    /// What happened so far.
    public var counters = RACounters()

    /// An interface that starts advertising at `now` (its first advertisement is due at once).
    public init(name: String, settings: AdvertisementSettings, now: RATime) {
        self.name = name
        self.settings = settings
        schedule = AdvertisementSchedule(
            minInterval: settings.effectiveMinInterval, maxInterval: settings.maxInterval, now: now)
    }

    /// The advertisement due at `now`, or nil. Call `sent` with the outcome after sending it.
    public func due(at now: RATime) -> [UInt8]? {
        schedule.isDue(now) ? RouterAdvertisementMessage.build(settings) : nil
    }

    /// Records the send attempt of the advertisement that was due, and schedules the next one.
    public mutating func sent(at now: RATime, ok: Bool, using random: inout some RandomNumberGenerator) {
        if ok { counters.sent += 1 } else { counters.sendErrors += 1 }
        schedule.sent(at: now, using: &random)
    }

    /// The final advertisement (RA14), to send when the interface stops advertising.
    public var finalAdvertisement: [UInt8] { RouterAdvertisementMessage.build(settings, final: true) }

    /// Handles a received message: counts it, and schedules an answer to a valid solicitation.
    public mutating func received(
        _ message: [UInt8], source: IPv6Address, hopLimit: Int?, at now: RATime,
        using random: inout some RandomNumberGenerator
    ) {
        switch NDInput.classify(message, source: source, hopLimit: hopLimit) {
        case .solicitation:
            counters.solicitations += 1
            switch schedule.solicited(at: now, using: &random) {
            case .answered: counters.solicitationsAnswered += 1
            case .rateLimited: counters.rateLimited += 1
            }
        case .advertisement:
            counters.otherAdvertisements += 1
        case .dropped(let reason):
            counters.malformed[reason, default: 0] += 1
        }
    }

    /// RA15: new settings take effect at once: an advertisement is due at `now`, then the fast initial ones.
    /// The link-layer address the sender found is kept.
    public mutating func apply(_ new: AdvertisementSettings, at now: RATime) {
        var new = new
        if new.sourceLinkLayerAddress == nil { new.sourceLinkLayerAddress = settings.sourceLinkLayerAddress }
        settings = new
        schedule.restart(minInterval: new.effectiveMinInterval, maxInterval: new.maxInterval, now: now)
    }
}
