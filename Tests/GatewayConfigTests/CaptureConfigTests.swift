// The [capture] and [control] sections: defaults, every value, and the errors with their lines and fixes.
import Testing

@testable import GatewayConfig

@Suite struct CaptureConfigTests {
    @Test func defaultsWhenTheSectionsAreAbsent() throws {
        let config = try GatewayConfiguration.parse(minimalConfig, file: "test.toml")
        #expect(config.capture == .init(enabled: false, directory: "/var/lib/nat64d/capture", filter: "",
                                        maxSizeMB: 64, maxFiles: 10))
        #expect(config.control.socket == "/run/nat64d/nat64.sock")  // derived from tun.name
        #expect(config.capture.settings.maxFileBytes == 64 << 20)
    }

    @Test func everyKeyIsRead() throws {
        let config = try GatewayConfiguration.parse(minimal(plus: """
            [capture]
            enabled = true
            directory = "/tmp/cap"
            filter = "host 198.51.100.10 and tcp port 80"
            max-size-mb = 2
            max-files = 3

            [control]
            socket = "/tmp/nat64d.sock"
            """), file: "test.toml")
        #expect(config.capture == .init(enabled: true, directory: "/tmp/cap",
                                        filter: "host 198.51.100.10 and tcp port 80", maxSizeMB: 2, maxFiles: 3))
        #expect(config.capture.settings.maxFileBytes == 2 << 20)
        #expect(config.control.socket == "/tmp/nat64d.sock")
    }

    @Test func filterIsCheckedByLibpcap() {
        expectConfigError(minimal(plus: "[capture]\nfilter = \"tcp prot 80\""), line: 9,
                          mentioning: ["capture.filter \"tcp prot 80\" is not a valid capture filter", "libpcap:",
                                       "pcap-filter(7)"])
    }

    @Test func relativeOrOverlongPathsAreRefused() {
        expectConfigError(minimal(plus: "[capture]\ndirectory = \"cap\""), line: 9,
                          mentioning: ["capture.directory \"cap\" is not an absolute path"])
        let long = "/" + String(repeating: "s", count: 107)
        expectConfigError(minimal(plus: "[control]\nsocket = \"\(long)\""), line: 9,
                          mentioning: ["is 108 bytes long", "at most 107 bytes"])
        expectConfigError(minimal(plus: "[control]\nsocket = \"/tmp/a\\nb\""), line: 9,
                          mentioning: ["control characters"])
    }

    @Test func boundsAndTypes() {
        expectConfigError(minimal(plus: "[capture]\nmax-size-mb = 0"), line: 9,
                          mentioning: ["capture.max-size-mb = 0 is too small", "at least 1 MiB"])
        expectConfigError(minimal(plus: "[capture]\nmax-files = 1001"), line: 9,
                          mentioning: ["capture.max-files = 1001 is too large", "at most 1000 files"])
        expectConfigError(minimal(plus: "[capture]\nenabled = \"yes\""), line: 9, mentioning: ["must be a boolean"])
        expectConfigError(minimal(plus: "[control]\nsocket = 5"), line: 9, mentioning: ["must be a string"])
        expectConfigError(minimal(plus: "[capture]\nfiltre = \"\""), line: 9, mentioning: ["did you mean `filter`?"])
    }
}
