// `tun.io`: the default, both values, and a wrong value named with its line and the values it takes.
import GatewayConfig
import Testing

@Suite struct TunIOConfigTests {
    @Test func defaultsToSyscallsAndTakesBothModes() throws {
        #expect(try GatewayConfiguration.parse(minimalConfig, file: "test.toml").tun.io == .syscalls)
        for mode in TunIOMode.allCases {
            let config = try GatewayConfiguration.parse(minimal(plus: "[tun]\nio = \"\(mode.rawValue)\""), file: "test.toml")
            #expect(config.tun.io == mode)
        }
    }

    @Test func aWrongValueNamesTheLineAndTheChoices() {
        expectConfigError(minimal(plus: "[tun]\nio = \"epoll\""), line: 9, mentioning: ["tun.io", "uring", "syscalls"])
        expectConfigError(minimal(plus: "[tun]\nio = true"), line: 9, mentioning: ["tun.io"])
    }
}
