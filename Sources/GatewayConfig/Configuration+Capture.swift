// The `[capture]` and `[control]` sections: packet capture for debugging (see PacketCapture's CaptureRecorder
// for the files written) and the daemon's control socket (`nat64d ctl`).

import PacketCapture

extension GatewayConfiguration {
    /// `[capture]`: pcap files of what the translator receives, sends and drops. Off by default; also switched
    /// at runtime with `nat64d ctl capture start|stop`.
    public struct Capture: Sendable, Equatable {
        /// Whether to capture from startup. Default false.
        public var enabled: Bool
        /// Absolute directory for the files (created with mode 0700). Default `/var/lib/nat64d/capture`.
        public var directory: String
        /// A pcap-filter(7) expression checked by libpcap's compiler; empty keeps every packet. Default "".
        public var filter: String
        /// Rotate a file when it reaches this many MiB, 1...4096 (key `max-size-mb`). Default 64.
        public var maxSizeMB: Int
        /// Files kept per stream, the current one included, 1...1000. Default 10.
        public var maxFiles: Int

        /// The settings a `CaptureRecorder` takes.
        public var settings: CaptureSettings {
            CaptureSettings(directory: directory, filter: filter, maxFileBytes: maxSizeMB << 20, maxFiles: maxFiles)
        }
    }

    /// `[control]`: the Unix stream socket `nat64d ctl` talks to.
    public struct Control: Sendable, Equatable {
        /// Absolute path of the socket (created mode 0600; at most 107 bytes, the `sun_path` limit).
        /// Default `/run/nat64d/<tun.name>.sock`, so instances with their own TUN have their own socket.
        public var socket: String

        /// The default socket of the instance whose TUN device is `tunName`.
        public static func defaultSocket(tunName: String) -> String { "/run/nat64d/\(tunName).sock" }
    }
}

extension Defaults {
    static let captureDirectory = "/var/lib/nat64d/capture"
    static let captureMaxSizeMB = 64
    static let captureMaxFiles = 10
}

extension ConfigReader {
    // MARK: [capture]

    mutating func readCapture(_ s: Section) -> GatewayConfiguration.Capture? {
        let enabled = boolean(s, "enabled", default: false)
        var directory: String? = Defaults.captureDirectory
        if let text = string(s, "directory", example: "\"\(Defaults.captureDirectory)\"") {
            directory = convert(text, label: s.path("directory")) { Self.absolutePath($0, maxBytes: 4095) }
        }
        var filter: String? = ""
        if let text = string(s, "filter", example: "\"host 198.51.100.10 and tcp port 80\"") {
            filter = convert(text, label: s.path("filter"), Self.captureFilter)
        }
        let maxSize = integer(s, "max-size-mb", default: Defaults.captureMaxSizeMB,
                              IntegerRule(range: 1...4096, unit: " MiB"))
        let maxFiles = integer(s, "max-files", default: Defaults.captureMaxFiles,
                               IntegerRule(range: 1...1000, unit: " files"))
        guard let enabled, let directory, let filter, let maxSize, let maxFiles else { return nil }
        return .init(enabled: enabled, directory: directory, filter: filter, maxSizeMB: maxSize, maxFiles: maxFiles)
    }

    /// A filter expression libpcap compiles for raw IP packets (empty: no filter).
    static func captureFilter(_ text: String) -> Result<String, Problem> {
        if text.isEmpty { return .success(text) }
        guard let problem = PacketFilter.problem(with: text) else { return .success(text) }
        return .failure(Problem("is not a valid capture filter (libpcap: \(problem)); write a pcap-filter(7) "
            + "expression such as \"host 198.51.100.10 and tcp port 80\", or \"\" for every packet"))
    }

    // MARK: [control]

    mutating func readControl(_ s: Section, tunName: String) -> GatewayConfiguration.Control? {
        let fallback = GatewayConfiguration.Control.defaultSocket(tunName: tunName)
        guard let text = string(s, "socket", example: "\"\(fallback)\"") else {
            return s["socket"] == nil ? .init(socket: fallback) : nil
        }
        // sun_path holds 108 bytes, the terminating NUL included.
        return convert(text, label: s.path("socket")) { Self.absolutePath($0, maxBytes: 107) }.map { .init(socket: $0) }
    }

    /// An absolute path of at most `maxBytes` bytes without control characters.
    static func absolutePath(_ text: String, maxBytes: Int) -> Result<String, Problem> {
        guard text.hasPrefix("/") else {
            return .failure(Problem("is not an absolute path; write a path starting with /, e.g. \"/run/nat64d/control.sock\""))
        }
        guard text.utf8.count <= maxBytes else {
            return .failure(Problem("is \(text.utf8.count) bytes long; use a path of at most \(maxBytes) bytes"))
        }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            return .failure(Problem("contains control characters; write a plain path"))
        }
        return .success(text)
    }
}
