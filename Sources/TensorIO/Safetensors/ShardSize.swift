// Shard size limits as written on a command line: "5GB" (decimal, as Hugging Face means it:
// 5 * 10^9), "500MB", "2GiB" (binary), or plain bytes. A fractional value is truncated to
// whole bytes like huggingface_hub's `int(value * multiplier)`.

public enum ShardSize {
    /// The Hugging Face default, "5GB".
    public static let defaultMaxShardSize = 5_000_000_000

    public static func parse(_ text: String) throws -> Int {
        let trimmed = text.trimming(" \t")
        let units: [(suffix: String, multiplier: Double)] = [
            ("KIB", 1024), ("MIB", 1_048_576), ("GIB", 1_073_741_824), ("TIB", 1_099_511_627_776),
            ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1),
        ]
        let upper = trimmed.uppercased()
        var number = trimmed
        var multiplier = 1.0
        for unit in units where upper.hasSuffix(unit.suffix) {
            number = String(trimmed.dropLast(unit.suffix.count)).trimming(" \t")
            multiplier = unit.multiplier
            break
        }
        if multiplier == 1, let bytes = Int(number), bytes > 0 { return bytes }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Double(number), value.isFinite else {
            throw SafetensorsError.invalidShardSize(text: text, reason: "expected a number with an optional unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)")
        }
        let bytes = value * multiplier
        guard bytes >= 1, bytes < 9.0e18 else {
            throw SafetensorsError.invalidShardSize(text: text, reason: "must be at least 1 byte and below 9e18")
        }
        return Int(bytes)
    }
}

extension String {
    fileprivate func trimming(_ set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
