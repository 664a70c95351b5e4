// `ctl reload [--json]`: re-read the configuration file, as SIGHUP does (Reload.swift). Exits non-zero with the
// file's FILE:LINE errors when the new file is refused; the running configuration then stays.

extension ControlCommands {
    func reloadConfiguration(json: Bool) -> ControlReply {
        guard let reload else { return .failure(ControlError("this nat64d was not started from a file; nothing to reload")) }
        return Self.reloadReply(reload(), json: json)
    }

    /// The reply for a reload's outcome (also the DNS64-only daemon's).
    static func reloadReply(_ outcome: Result<ReloadOutcome, ControlError>, json: Bool) -> ControlReply {
        switch outcome {
        case .success(let outcome): json ? .json(outcome) : .text(outcome.lines)
        case .failure(let error): .failure(error)
        }
    }
}
