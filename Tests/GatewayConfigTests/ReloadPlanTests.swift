// What a reload changes live and what waits for a restart (Configuration+Reload.swift), the warnings of a valid
// file (Configuration+Warnings.swift), every error of a broken one, and the control socket derived from the
// TUN name.
import NAT64Translator
import Testing
#if canImport(Glibc)
import Glibc
#endif

@testable import GatewayConfig

@Suite struct ReloadPlanTests {
    func parse(_ extra: String) throws -> GatewayConfiguration {
        try GatewayConfiguration.parse(minimal(plus: extra), file: "test.toml")
    }

    @Test func anUnchangedFileChangesNothing() throws {
        let c = try parse("")
        let plan = GatewayConfiguration.reloadPlan(running: c, file: c)
        #expect(!plan.changed)
        #expect(plan.effective == c)
    }

    @Test func timeoutsLimitsAndLogLevelAreLiveTheTunIsKept() throws {
        let running = try parse("[tun]\nname = \"nat64\"\nmtu = 1500\n")
        let file = try GatewayConfiguration.parse("""
            [tun]
            name = "other"
            mtu = 1400

            [translator]
            prefix = "64:ff9b::/96"
            pool4 = ["192.0.2.1"]
            udp-timeout = 600
            max-sessions-per-host = 10

            [gateway]
            ipv4 = "198.51.100.1"
            ipv6 = "2001:db8:1::1"

            [log]
            level = "debug"

            [translation]
            icmp-error-rate = 5
            """, file: "new.toml")
        let plan = GatewayConfiguration.reloadPlan(running: running, file: file)
        #expect(plan.live == ["translator.udp-timeout", "translator.max-sessions-per-host", "log.level",
                              "translation.icmp-error-rate"])
        #expect(plan.kept == ["tun.name", "tun.mtu", "control.socket"])
        #expect(plan.effective.tun == running.tun)
        #expect(plan.effective.control == running.control)
        #expect(plan.effective.translator.udpTimeout == 600)
        #expect(plan.effective.translator.maxSessionsPerHost == 10)
        #expect(plan.effective.log.level == "debug")
        #expect(plan.effective.translation.icmpErrorRate == 5)
    }

    @Test func prefixPool4AndTableSizeAreKept() throws {
        let running = try parse("")
        var file = running
        file.translator.pool4 = [IPv4Prefix("192.0.2.2")!]
        file.translator.maxSessions = 10
        file.translator.mode = .pool
        let plan = GatewayConfiguration.reloadPlan(running: running, file: file)
        #expect(plan.live.isEmpty)
        #expect(plan.kept == ["translator.pool4", "translator.mode", "translator.max-sessions"])
        #expect(plan.effective == running)
    }

    /// The DNS64 prefix follows translator.prefix by default; a prefix change that waits for a restart must not
    /// reach the DNS64 before the translator serves it.
    @Test func aKeptPrefixKeepsTheDefaultedDNS64Prefix() throws {
        let dns = "[dns64]\nupstream = [\"198.51.100.10\"]\n"
        let running = try parse(dns)
        let file = try GatewayConfiguration.parse(
            minimal(plus: dns).replacing("64:ff9b::/96", with: "2001:db8:64::/96"), file: "new.toml")
        #expect(file.dns64.prefixes == [NAT64Prefix(IPv6Prefix("2001:db8:64::/96")!)!])
        let plan = GatewayConfiguration.reloadPlan(running: running, file: file)
        #expect(plan.kept == ["translator.prefix"])
        #expect(plan.live.isEmpty)
        #expect(plan.effective.dns64.prefixes == [NAT64Prefix.wellKnown])
    }

    @Test func dns64SettingsAreLive() throws {
        let running = try parse("[dns64]\nupstream = [\"198.51.100.10\"]\n")
        let file = try parse("[dns64]\nupstream = [\"198.51.100.11\"]\nbreak-dnssec = true\nudp-sockets = 3\n")
        let plan = GatewayConfiguration.reloadPlan(running: running, file: file)
        #expect(plan.live == ["dns64.upstream", "dns64.break-dnssec"])
        #expect(plan.kept == ["dns64.udp-sockets"])
        #expect(plan.effective.dns64.udpSockets == running.dns64.udpSockets)
        #expect(plan.effective.dns64.upstreams == file.dns64.upstreams)
    }

    /// Every key of the schema is in the reload table, so a new key cannot be forgotten silently.
    @Test func everySchemaKeyHasAReloadRule() {
        let covered = Set(GatewayConfiguration.reloadFields.map(\.key))
        let skipped: Set = ["translator.eam-allow-overlap"]  // a check on `eam`, no value of its own
        for (section, keys) in ConfigReader.schema {
            for key in keys where !skipped.contains("\(section).\(key)") {
                // A section compared whole (`ra`, `proxy`) covers its keys.
                #expect(covered.contains("\(section).\(key)") || covered.contains(section),
                        "\(section).\(key) has no reload rule")
            }
        }
    }

    @Test func controlSocketFollowsTheTunName() throws {
        #expect(try parse("[tun]\nname = \"nat64b\"\n").control.socket == "/run/nat64d/nat64b.sock")
        #expect(try parse("").control.socket == "/run/nat64d/nat64.sock")
        #expect(try parse("[tun]\nname = \"nat64b\"\n[control]\nsocket = \"/tmp/x.sock\"\n").control.socket == "/tmp/x.sock")
    }
}

@Suite struct ConfigWarningTests {
    let on = ForwardingSysctls(ipv6: true, ipv4: true)

    @Test func aCleanConfigHasNoWarnings() throws {
        let c = try GatewayConfiguration.parse(minimal(plus: "").replacing(
            "64:ff9b::/96", with: "2001:db8:64::/96"), file: "t.toml")
        #expect(c.warnings(forwarding: on).isEmpty)
    }

    @Test func dns64PrefixThatNoTranslatorServes() throws {
        let c = try GatewayConfiguration.parse(minimal(plus: """
            [dns64]
            upstream = ["8.8.8.8"]
            prefix = "2001:db8:64::/96"
            """), file: "t.toml")
        let keys = c.warnings(forwarding: on).map(\.key)
        #expect(keys.contains("dns64.prefix"))
    }

    @Test func wellKnownPrefixWithPrivatePool4AndUpstream() throws {
        let c = try GatewayConfiguration.parse(minimal(plus: "[dns64]\nupstream = [\"10.0.0.53\"]\n")
            .replacing("192.0.2.1", with: "10.1.2.3"), file: "t.toml")
        let keys = c.warnings(forwarding: on).map(\.key)
        #expect(keys == ["translator.pool4", "dns64.upstream"])
    }

    @Test func forwardingOff() throws {
        let c = try GatewayConfiguration.parse(minimal(plus: "").replacing(
            "64:ff9b::/96", with: "2001:db8:64::/96"), file: "t.toml")
        let w = c.warnings(forwarding: ForwardingSysctls(ipv6: false, ipv4: false))
        #expect(w.map(\.key) == ["net.ipv6.conf.all.forwarding", "net.ipv4.ip_forward"])
        #expect(w[0].description.hasPrefix("warning: net.ipv6.conf.all.forwarding: "))
        #expect(c.warnings(forwarding: ForwardingSysctls(ipv6: nil, ipv4: nil)).isEmpty)
    }

    /// `check` lists every error of a file, first line first, not just the first one.
    @Test func checkReportsEveryError() throws {
        let dir = "/tmp/nat64d-check-\(getpid())"
        _ = mkdir(dir, 0o700)
        defer { _ = unlink(dir + "/c.toml"); _ = rmdir(dir) }
        let text = """
            [tun]
            mtu = 1

            [translator]
            prefix = "2001:db8::/80"
            pool4 = ["192.0.2.1"]
            udp-timeout = 5

            [gateway]
            ipv4 = "198.51.100.1"
            ipv6 = "2001:db8:1::1"
            """
        let f = fopen(dir + "/c.toml", "w")!
        fputs(text, f)
        fclose(f)
        switch GatewayConfiguration.check(path: dir + "/c.toml", forwarding: on) {
        case .success: Issue.record("a broken file was accepted")
        case .failure(let failure):
            #expect(failure.errors.map(\.line) == [2, 5, 7])
        }
    }
}

@Suite struct RolesConfigTests {
    @Test func dns64OnlyNeedsNoPool4NorGateway() throws {
        let c = try GatewayConfiguration.parse("""
            [translator]
            enabled = false
            prefix = "2001:db8:64::/96"

            [dns64]
            upstream = ["198.51.100.10"]
            """, file: "t.toml")
        #expect(!c.translator.enabled)
        #expect(c.translator.pool4.isEmpty)
        #expect(c.dns64.enabled)
        #expect(c.dns64.prefixes == [NAT64Prefix(IPv6Prefix("2001:db8:64::/96")!)!])
        // Nothing to forward: no forwarding warning, no prefix comparison.
        #expect(c.warnings(forwarding: ForwardingSysctls(ipv6: false, ipv4: false)).isEmpty)
    }

    @Test func theTranslatorOffWithoutDNS64IsAnError() {
        let errors = GatewayConfiguration.diagnose("""
            [translator]
            enabled = false
            prefix = "2001:db8:64::/96"
            """, file: "t.toml")
        #expect(errors.count == 1)
        #expect(errors.first?.line == 2)
        #expect(errors.first?.code == .conflict)
    }

    @Test func withoutDNS64OnlyTheTranslatorRuns() throws {
        let c = try GatewayConfiguration.parse(minimalConfig, file: "t.toml")
        #expect(c.translator.enabled && !c.dns64.enabled)
    }

    @Test func switchingTheTranslatorWaitsForARestart() throws {
        let running = try GatewayConfiguration.parse(minimal(plus: "[dns64]\nupstream = [\"198.51.100.10\"]\n"), file: "a")
        var file = running
        file.translator.enabled = false
        let plan = GatewayConfiguration.reloadPlan(running: running, file: file)
        #expect(plan.kept == ["translator.enabled"])
        #expect(plan.effective.translator.enabled)
    }
}
