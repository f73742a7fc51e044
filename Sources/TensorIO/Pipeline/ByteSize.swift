// Sizes as people write them for --max-shard-size: decimal units as Hugging Face uses them
// ("5GB" = 5 * 10^9, its default shard size), binary units when asked for ("2GiB").

public enum ByteSize {
    /// Parses "123", "500MB", "1.5GB", "2GiB", "100kB" (case-insensitive, optional space).
    public static func parse(_ text: String) throws -> Int {
        let trimmed = text.filter { $0 != " " && $0 != "_" }
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        let unit = trimmed.dropFirst(digits.count).uppercased()
        let multipliers: [String: Double] = [
            "": 1, "B": 1,
            "K": 1e3, "KB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9, "T": 1e12, "TB": 1e12,
            "KIB": 1024, "MIB": 1_048_576, "GIB": 1_073_741_824, "TIB": 1_099_511_627_776,
        ]
        guard let number = Double(digits), let multiplier = multipliers[unit] else {
            throw PipelineError.badSize(text: text)
        }
        let bytes = (number * multiplier).rounded()
        guard bytes >= 1, bytes < 9e18 else { throw PipelineError.badSize(text: text) }
        return Int(bytes)
    }

    /// "1.07 GB", "512 kB", "12 B": decimal units, three significant digits.
    public static func format(_ bytes: Int) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let digits = value >= 100 ? 0 : value >= 10 ? 1 : 2
        return "\(formatFixed(value, digits: digits)) \(units[unit])"
    }

    /// A Double with a fixed number of decimals, without Foundation.
    public static func formatFixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        var text = (value < 0 && scaled != 0 ? "-" : "") + "\(whole)"
        if digits > 0 {
            let fraction = Int(scaled - Double(whole) * scale)
            let padded = String(fraction)
            text += "." + String(repeating: "0", count: digits - padded.count) + padded
        }
        return text
    }
}
