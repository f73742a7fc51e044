// Sizes for people to read (parsing "5GB" is ShardSize.parse, beside the sharded writer).

public enum ByteSize {
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
