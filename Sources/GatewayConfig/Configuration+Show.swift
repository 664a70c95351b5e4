// The effective configuration key by key (`nat64d ctl config`): every key of the schema with the value the
// daemon holds, defaults filled in, in the order of the sample file. The values come from the same table as
// the reload rules (Configuration+Reload.swift), so a key cannot be missing from one and present in the other.

extension GatewayConfiguration {
    /// Each key and its value; a key read from two fields (e.g. `translator.pool4`: the prefixes and their
    /// port ranges) appears once per field.
    public var effectiveValues: [(key: String, value: Any)] {
        Self.reloadFields.map { ($0.key, $0.value(self)) }
    }
}
