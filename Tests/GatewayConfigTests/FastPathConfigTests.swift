// `[fast-path]`: off by default, the interfaces and the bound it reads, and mistakes named with their line.
import GatewayConfig
import Testing

@Suite struct FastPathConfigTests {
    @Test func G5_offUnlessInterfacesAreNamed() throws {
        let plain = try GatewayConfiguration.parse(minimalConfig, file: "test.toml")
        #expect(!plain.fastPath.enabled && plain.fastPath.maxFlows == 65_536)
        let empty = try GatewayConfiguration.parse(minimal(plus: "[fast-path]"), file: "test.toml")
        #expect(!empty.fastPath.enabled)
    }

    @Test func G5_readsTheInterfacesAndTheBound() throws {
        let config = try GatewayConfiguration.parse(
            minimal(plus: "[fast-path]\ninterfaces = [\"eth0\", \"eth1\"]\nmax-flows = 1024"), file: "test.toml")
        #expect(config.fastPath.enabled && config.fastPath.interfaces == ["eth0", "eth1"])
        #expect(config.fastPath.maxFlows == 1024)
    }

    @Test func G5_mistakesNameTheLineAndTheFix() {
        expectConfigError(minimal(plus: "[fast-path]\ninterfaces = [\"eth0\", \"eth0\"]"), line: 9,
                          mentioning: ["fast-path.interfaces", "twice"])
        expectConfigError(minimal(plus: "[fast-path]\ninterfaces = [\"nat64\"]"), line: 9,
                          mentioning: ["TUN device", "never the TUN"])
        expectConfigError(minimal(plus: "[fast-path]\ninterfaces = [\"a-name-far-too-long\"]"), line: 9,
                          mentioning: ["not an interface name"])
        expectConfigError(minimal(plus: "[fast-path]\nmax-flows = 4"), line: 9, mentioning: ["fast-path.max-flows"])
        expectConfigError(minimal(plus: "[fast-path]\ninterface = [\"eth0\"]"), line: 9, mentioning: ["interfaces"])
    }
}
