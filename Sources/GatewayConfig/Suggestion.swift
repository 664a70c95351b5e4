// "Did you mean …?" for unknown keys, sections and log levels.

/// Finds the known name a mistyped one was probably meant to be.
public enum Suggestion {
    /// The candidate closest to `name`, if it is close enough to be a likely typo.
    ///
    /// Names are compared in lower case with `_` read as `-` (so `udp_timeout` finds `udp-timeout`). A candidate
    /// qualifies within an edit distance that grows with the name's length (1 up to 4 characters, 2 up to 8, then
    /// 3), or when one name starts with the other and the shorter has at least 3 characters (`timeout`,
    /// `timeout-ms`).
    /// - Parameters:
    ///   - name: what the file says.
    ///   - candidates: the valid names.
    /// - Returns: the best candidate, or nil when none is close.
    public static func closest(to name: String, among candidates: [String]) -> String? {
        let wanted = normalized(name)
        let allowed = wanted.count <= 4 ? 1 : wanted.count <= 8 ? 2 : 3
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let other = normalized(candidate)
            var distance = editDistance(wanted, other)
            let (short, long) = wanted.count <= other.count ? (wanted, other) : (other, wanted)
            if short.count >= 3 && long.starts(with: short) { distance = min(distance, 1) }
            guard distance <= allowed, distance < best?.distance ?? .max else { continue }
            best = (candidate, distance)
        }
        return best?.name
    }

    private static func normalized(_ s: String) -> [UInt8] {
        s.utf8.prefix(64).map { b in
            let lower = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b) ? b + 32 : b
            return lower == UInt8(ascii: "_") ? UInt8(ascii: "-") : lower
        }
    }

    /// Levenshtein distance (insert, delete, substitute; each costs 1).
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        var row = previous
        for i in 1...a.count {
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                row[j] = min(substitute, previous[j] + 1, row[j - 1] + 1)
            }
            swap(&previous, &row)
        }
        return previous[b.count]
    }
}
