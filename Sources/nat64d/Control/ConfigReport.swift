// `ctl config [--json]`: the configuration the daemon holds now (the file as last loaded or reloaded, defaults
// filled in, keys that wait for a restart at their running value). JSON: {"settings": {"tun.name": "nat64",
// "translator.udp-timeout": 300, ...}}; text: TOML-like sections, `[tun]` then `name = "nat64"`.
import GatewayConfig

enum ConfigReport {
    static func reply(_ configuration: GatewayConfiguration?, json: Bool) -> ControlReply {
        guard let configuration else { return .failure(ControlError("the configuration is not known to this control server")) }
        var settings: [(key: String, value: JSONValue)] = []
        for (key, value) in configuration.effectiveValues {
            let v = member(of: jsonValue(value), for: key)
            if let i = settings.firstIndex(where: { $0.key == key }) {
                // One key read from two fields (translator.pool4: prefixes, then port ranges).
                if case .array(let a) = settings[i].value { settings[i].value = .array(a + [v]) } else {
                    settings[i].value = .array([settings[i].value, v])
                }
            } else {
                settings.append((key, v))
            }
        }
        if json {
            return ControlReply(result: .object(["settings": .object(Dictionary(settings.map { ($0.key, $0.value) },
                                                                               uniquingKeysWith: { a, _ in a }))]))
        }
        return .text(text(settings))
    }

    /// Where several keys are read from one structure (`translator.port-block-size`, `-per-host`, `-hold`), the
    /// structure's member the key names: the same name in camelCase, or the member its name ends with.
    static func member(of value: JSONValue, for key: String) -> JSONValue {
        guard case .object(let members) = value, let last = key.split(separator: ".").last else { return value }
        if let exact = members[String(last)] { return exact }
        let bare = last.filter { $0 != "-" }
        let matches = members.filter { bare.hasSuffix($0.key.filter { $0 != "-" }) }
        return matches.count == 1 ? matches.first!.value : value
    }

    /// `[section]` headers in first-seen order, then `key = value` lines.
    static func text(_ unordered: [(key: String, value: JSONValue)]) -> [String] {
        var sections: [String] = []
        for (key, _) in unordered {
            let head = String(key.split(separator: ".", maxSplits: 1)[0])
            if !sections.contains(head) { sections.append(head) }
        }
        let settings = sections.flatMap { head in unordered.filter { $0.key.split(separator: ".", maxSplits: 1)[0] == head } }
        var lines: [String] = []
        var section: String?
        for (key, value) in settings {
            let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
            let (head, name) = parts.count == 2 ? (parts[0], parts[1]) : (parts[0], "")
            if head != section {
                if !lines.isEmpty { lines.append("") }
                lines.append("[\(head)]")
                section = head
            }
            lines.append(name.isEmpty ? "# \(tomlText(value))" : "\(name) = \(tomlText(value))")
        }
        return lines
    }

    /// A configuration value as JSON: numbers, booleans and strings as such, collections as arrays and objects,
    /// absent optionals as null, addresses and other described types as their text, structures by field.
    static func jsonValue(_ value: Any) -> JSONValue {
        let mirror = Mirror(reflecting: value)
        switch value {
        case let b as Bool: return .bool(b)
        case let i as any BinaryInteger: return .int(Int64(clamping: i))
        case let d as Double: return .double(d)
        case let s as String: return .string(s)
        case let r as ClosedRange<UInt16>: return .string("\(r.lowerBound)-\(r.upperBound)")
        case let e as GatewayConfiguration.Endpoint: return .string(describe(e))  // as the file writes it
        case let h as GatewayConfiguration.Endpoint.Host:
            switch h {
            case .v4(let a): return .string("\(a)")
            case .v6(let a): return .string("\(a)")
            }
        default: break
        }
        switch mirror.displayStyle {
        case .optional: return mirror.children.first.map { jsonValue($0.value) } ?? .null
        case .collection, .set, .tuple: return .array(mirror.children.map { jsonValue($0.value) })
        case .dictionary:
            var object: [String: JSONValue] = [:]
            for pair in mirror.children {
                let kv = Array(Mirror(reflecting: pair.value).children)
                if kv.count == 2 { object["\(kv[0].value)"] = jsonValue(kv[1].value) }
            }
            return .object(object)
        default: break
        }
        if let raw = value as? any RawRepresentable, let text = raw.rawValue as? String { return .string(text) }
        if let described = value as? any CustomStringConvertible { return .string(described.description) }
        if mirror.displayStyle == .enum, mirror.children.count == 1, let payload = mirror.children.first {
            return jsonValue(payload.value)  // `.v6(prefix)`: the prefix
        }
        if mirror.displayStyle == .struct || mirror.displayStyle == .class {
            var object: [String: JSONValue] = [:]
            for child in mirror.children { if let label = child.label { object[kebab(label)] = jsonValue(child.value) } }
            return .object(object)
        }
        return .string(String(describing: value))
    }

    /// A field's name as the file spells keys: `maxSizeMB` → `max-size-mb`, `rfc6791Pool4` → `rfc6791-pool4`.
    static func kebab(_ name: String) -> String {
        let chars = Array(name)
        var out = ""
        for (i, c) in chars.enumerated() {
            if c.isUppercase, i > 0 {
                let previous = chars[i - 1]
                let nextIsLower = i + 1 < chars.count && chars[i + 1].isLowercase
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && nextIsLower) { out.append("-") }
            }
            out.append(Character(c.lowercased()))
        }
        return out
    }

    /// TOML-like text of a value (objects as inline tables).
    static func tomlText(_ value: JSONValue) -> String {
        switch value {
        case .null: "(none)"
        case .bool(let b): "\(b)"
        case .int(let i): "\(i)"
        case .uint(let u): "\(u)"
        case .double(let d): "\(d)"
        case .string(let s): "\"" + s.replacingQuotes + "\""
        case .array(let a): "[" + a.map(tomlText).joined(separator: ", ") + "]"
        case .object(let o): "{ " + o.sorted { $0.key < $1.key }.map { "\($0.key) = \(tomlText($0.value))" }
            .joined(separator: ", ") + " }"
        }
    }
}

private extension String {
    var replacingQuotes: String {
        var out = ""
        for c in self {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
