// `ctl reload [--json]`: re-read the configuration file, as SIGHUP does (Reload.swift). Exits non-zero with the
// file's FILE:LINE errors when the new file is refused; the running configuration then stays.

extension ControlCommands {
    func reloadConfiguration(_ options: [String]) -> Result<[String], ControlError> {
        guard options.isEmpty || options == ["--json"] else {
            return .failure(ControlError("reload takes only --json (got \"\(options.joined(separator: " "))\")"))
        }
        guard let reload else { return .failure(ControlError("this nat64d was not started from a file; nothing to reload")) }
        return reload().map { outcome in options == ["--json"] ? [Self.encode(outcome)] : outcome.lines }
    }
}
