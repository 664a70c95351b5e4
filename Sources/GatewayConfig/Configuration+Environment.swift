// Checks of a valid configuration against the machine it is to run on, which `check-config` and `run` make
// after parsing: today, that `translator.state-dir` (pool mode keeps its assignments there) is a directory
// nat64d can write, or can be created. A state directory the daemon cannot write would lose every pool
// assignment silently at run time; here it is an error with the key's line and the fix.

#if canImport(Glibc)
import Glibc
#endif

/// Looks at a path on this machine; injectable so the checks can be unit tested without a real file system.
public struct DirectoryProbe: Sendable {
    /// What is wrong with `path` as a directory to write into, phrased to follow the path; nil when it is fine.
    public var problem: @Sendable (_ path: String) -> String?

    public init(problem: @escaping @Sendable (_ path: String) -> String?) { self.problem = problem }

    /// The real file system, as the current user: the path is a directory and writable, or it does not exist
    /// and its parent is a writable directory (the daemon creates it).
    public static let system = DirectoryProbe { path in
        var info = stat()
        if stat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else { return "exists and is not a directory" }
            guard access(path, W_OK | X_OK) == 0 else {
                return "is not writable here (\(String(cString: strerror(errno))))"
            }
            return nil
        }
        guard errno == ENOENT else { return "cannot be read (\(String(cString: strerror(errno))))" }
        let parent = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        guard stat(parent, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            return "does not exist, and neither does its parent directory \(parent)"
        }
        guard access(parent, W_OK | X_OK) == 0 else {
            return "does not exist, and its parent directory \(parent) is not writable here, so it cannot be created"
        }
        return nil
    }
}

extension GatewayConfiguration {
    /// Errors of a valid configuration on this machine (see the file header), each with its key's line.
    ///
    /// - Parameters:
    ///   - root: the parsed file, for the lines of the keys.
    ///   - file: the configuration file's path, for the errors.
    ///   - probe: how paths are looked at.
    func environmentErrors(root: TOMLTable, file: String, probe: DirectoryProbe) -> [ConfigError] {
        guard translator.enabled, translator.mode == .pool, let directory = translator.stateDirectory,
              let problem = probe.problem(directory) else { return [] }
        var line = 1
        if case .table(let section) = root["translator"]?.value.kind {
            line = section["state-dir"]?.line ?? section.line
        }
        return [ConfigError(file: file, line: line, code: .invalidValue, message: "translator.state-dir \"\(directory)\" "
            + "\(problem); pool mode keeps its assignments there. Create it writable by nat64d "
            + "(e.g. install -d -m 0755 \(directory)), or point state-dir at such a directory")]
    }
}
