// Where an installed nat64d looks for its configuration: the one path the unit file, the package, the README
// and the command line share.

extension GatewayConfiguration {
    /// `/etc/nat64d/nat64d.toml`.
    public static let defaultPath = "/etc/nat64d/nat64d.toml"
}
