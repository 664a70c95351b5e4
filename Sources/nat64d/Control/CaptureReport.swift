// `ctl capture start|stop|status --json`: whether capture runs, its settings and each stream's file and counters.
import PacketCapture

struct CaptureReport: Codable, Equatable {
    struct Stream: Codable, Equatable {
        var path: String
        var packets: UInt64
        var bytes: UInt64
        var errors: UInt64
        var rotations: Int
        var failure: String?
    }

    var capture: Bool
    var directory: String?
    var filter: String?
    var maxSizeMB: Int?
    var maxFiles: Int?
    /// UTC, e.g. 2026-12-01T05:19:36Z.
    var started: String?
    var filteredOut: UInt64?
    var streams: [Stream]

    enum CodingKeys: String, CodingKey {
        case capture, directory, filter, maxSizeMB = "max-size-mb", maxFiles = "max-files", started
        case filteredOut = "filtered-out", streams
    }

    init(_ status: CaptureStatus?) {
        capture = status != nil
        streams = []
        guard let status else { return }
        let s = status.settings
        directory = s.directory
        filter = s.filter
        maxSizeMB = s.maxFileBytes >> 20
        maxFiles = s.maxFiles
        started = utcText(status.started.seconds)
        filteredOut = status.filteredOut
        streams = status.streams.map {
            Stream(path: $0.path, packets: $0.packets, bytes: $0.bytes, errors: $0.errors, rotations: $0.rotations,
                   failure: $0.failure)
        }
    }
}
