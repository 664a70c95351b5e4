// `check` looks at the machine after the file is valid: pool mode's state directory must be a directory
// nat64d can write (or create). The probe is injected for the rule; one test uses the real file system with
// a regular file where the directory should be, which no user can write into as a directory.
import Glibc
import Testing

@testable import GatewayConfig

@Suite struct EnvironmentCheckTests {
    static let text = """
        [translator]
        prefix = "2001:db8:64::/96"
        pool4 = ["192.0.2.0/30"]
        mode = "pool"
        state-dir = "STATE"

        [gateway]
        ipv4 = "198.51.100.1"
        ipv6 = "2001:db8:1::1"
        """
    static let forwarding = ForwardingSysctls(ipv6: true, ipv4: true)

    /// Writes the config with `state` as state-dir into a fresh directory; returns the file's path.
    static func write(state: String, mode: String = "pool") -> (dir: String, file: String) {
        let dir = "/tmp/nat64d-envcheck-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        _ = mkdir(dir, 0o700)
        let file = dir + "/c.toml"
        let f = fopen(file, "w")!
        fputs(text.replacingOccurrences("STATE", state).replacingOccurrences("\"pool\"", "\"\(mode)\""), f)
        fclose(f)
        return (dir, file)
    }

    @Test func unwritableStateDirectoryIsAnErrorOnItsLine() {
        let (dir, file) = Self.write(state: "/var/lib/x")
        defer { _ = unlink(file); _ = rmdir(dir) }
        let probe = DirectoryProbe { $0 == "/var/lib/x" ? "is not writable here (Permission denied)" : nil }
        switch GatewayConfiguration.check(path: file, forwarding: Self.forwarding, directories: probe) {
        case .success: Issue.record("an unwritable state-dir was accepted")
        case .failure(let failure):
            #expect(failure.errors.count == 1)
            #expect(failure.errors.first?.line == 5)
            #expect(failure.errors.first?.message.contains("translator.state-dir \"/var/lib/x\" is not writable") == true)
            #expect(failure.errors.first?.message.contains("install -d") == true)
        }
    }

    @Test func writableStateDirectoryPasses() {
        let (dir, file) = Self.write(state: "/var/lib/x")
        defer { _ = unlink(file); _ = rmdir(dir) }
        let fine = DirectoryProbe { _ in nil }
        guard case .success = GatewayConfiguration.check(path: file, forwarding: Self.forwarding, directories: fine)
        else { Issue.record("a writable state-dir was refused"); return }
    }

    /// Outside pool mode the directory is not used, so it is not checked.
    @Test func naptModeDoesNotLookAtTheDirectory() {
        let (dir, file) = Self.write(state: "/var/lib/x", mode: "napt")
        defer { _ = unlink(file); _ = rmdir(dir) }
        let never = DirectoryProbe { _ in "must not be probed" }
        guard case .success = GatewayConfiguration.check(path: file, forwarding: Self.forwarding, directories: never)
        else { Issue.record("napt mode probed the state directory"); return }
    }

    /// The real probe: a regular file is not a directory; a missing directory under a writable parent can be
    /// created; one under a missing parent cannot.
    @Test func systemProbe() {
        let (dir, file) = Self.write(state: "/unused")
        defer { _ = unlink(file); _ = rmdir(dir) }
        #expect(DirectoryProbe.system.problem(file) == "exists and is not a directory")
        #expect(DirectoryProbe.system.problem(dir) == nil)
        #expect(DirectoryProbe.system.problem(dir + "/new") == nil)
        #expect(DirectoryProbe.system.problem(dir + "/missing/new")?.hasPrefix("does not exist, and neither") == true)
    }
}

extension String {
    fileprivate func replacingOccurrences(_ a: String, _ b: String) -> String {
        split(separator: a, omittingEmptySubsequences: false).joined(separator: b)
    }
}
