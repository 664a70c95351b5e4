// What a connection's first bytes decide, and what is written to the backend before relaying: shared by the two
// fronts (NIO's FrontHandler in ProxyServer.swift, and the relay threads' own listeners in SpliceRelay.swift) so
// that both apply IP-S1, IP-T*, IP-H* and the PROXY header (IP-P*) the same way.

/// What the first bytes say (IP-S1).
enum FirstBytesDecision: Equatable {
    /// Not enough yet; for TLS, no new parse is worth it before the buffer holds `wanted` bytes (IP-T6).
    case needMore(wanted: Int)
    /// The route is chosen by `name` (nil: the listener's default); `headLength` is the HTTP head's length
    /// without its closing empty line, where `Forwarded` fields go.
    case route(name: String?, headLength: Int?)
    case refuse(RefusalReason)
}

enum FirstBytes {
    /// Parses the bytes a client sent so far for a listener in `mode` (`tcp` routes at once).
    static func decide<C: RandomAccessCollection>(_ bytes: C, mode: ListenerMode, limit: Int) -> FirstBytesDecision
    where C.Element == UInt8, C.Index == Int {
        switch mode {
        case .tls:
            switch ClientHello.parse(bytes, maxBytes: limit) {
            case .needMore: return .needMore(wanted: ClientHello.bytesWanted(bytes))
            case .serverName(let n): return .route(name: n, headLength: nil)
            case .noServerName: return .route(name: nil, headLength: nil)
            case .invalid: return .refuse(.invalidHandshake)
            case .tooLarge: return .refuse(.oversizedHandshake)
            }
        case .http:
            switch HTTPHost.parse(bytes, maxBytes: limit) {
            case .needMore: return .needMore(wanted: 0)
            case .host(let n, let length): return .route(name: n, headLength: length)
            case .noHost(let length): return .route(name: nil, headLength: length)
            case .invalid: return .refuse(.invalidHandshake)
            case .tooLarge: return .refuse(.oversizedHandshake)
            }
        case .tcp:
            return .route(name: nil, headLength: nil)
        }
    }

    /// The PROXY header (per route), then `bytes`; in `http` mode with `forwarded = true`, the `Forwarded` and
    /// `X-Forwarded-For` fields go at the end of the first head (`headLength`).
    static func assemble<C: Collection>(_ bytes: C, route: RouteConfiguration, mode: ListenerMode, client: IPEndpoint,
                                        local: IPEndpoint, name: String?, headLength: Int?) -> [UInt8]
    where C.Element == UInt8 {
        var first = ProxyProtocolHeader.encode(route.proxyProtocol, source: client, destination: local,
                                               authority: name, tls: mode == .tls)
        first.reserveCapacity(first.count + bytes.count + 128)
        if mode == .http, route.forwardedHeaders, let headLength, headLength <= bytes.count {
            let split = bytes.index(bytes.startIndex, offsetBy: headLength)
            first += bytes[..<split]
            first += Array(FrontHandler.forwardedFields(client: client.address).utf8)
            first += bytes[split...]
        } else {
            first += bytes
        }
        return first
    }
}
