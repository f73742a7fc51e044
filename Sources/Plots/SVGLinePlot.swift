// A line plot written as plain SVG text: one polyline per series, axes with ticks and
// labels, a legend. Linear or base-10 logarithmic y axis. No dependencies, so any layer can
// draw its curves (loss per step here; training curves in Training).
//
//     var plot = SVGLinePlot(title: "loss", xLabel: "step", yLabel: "loss", logScaleY: true)
//     plot.add("loft", values: losses)          // x = 0, 1, 2, ...
//     try plot.render().write(toFile: "losses.svg", atomically: true, encoding: .utf8)

import Glibc

public struct SVGLinePlot: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var logScaleY: Bool
    public var width: Double = 860
    public var height: Double = 520
    public private(set) var series: [Series] = []

    /// Line colours, in order (distinguishable, also in grey scale order).
    public static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    public init(title: String, xLabel: String, yLabel: String, logScaleY: Bool = false) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.logScaleY = logScaleY
    }

    /// A series with x = 0, 1, 2, ...
    public mutating func add(_ name: String, values: [Double]) {
        add(name, points: values.enumerated().map { (Double($0.offset), $0.element) })
    }

    public mutating func add(_ name: String, points: [(x: Double, y: Double)]) {
        series.append(Series(name: name, points: points))
    }

    /// Points that can be drawn: finite, and positive on a log axis. A gap breaks the line.
    private func drawable(_ y: Double) -> Bool { y.isFinite && (!logScaleY || y > 0) }

    public func render() -> String {
        let left = 90.0, right = 190.0, top = 50.0, bottom = 60.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let all = series.flatMap(\.points).filter { $0.x.isFinite && drawable($0.y) }
        var xMin = all.map(\.x).min() ?? 0, xMax = all.map(\.x).max() ?? 1
        if xMax <= xMin { xMax = xMin + 1 }
        func ty(_ y: Double) -> Double { logScaleY ? log10(y) : y }
        var yMin = all.map { ty($0.y) }.min() ?? 0, yMax = all.map { ty($0.y) }.max() ?? 1
        if logScaleY { yMin = floor(yMin); yMax = ceil(yMax) }
        if yMax <= yMin { yMax = yMin + 1 }
        if !logScaleY { (xMin, yMin, yMax) = (xMin, yMin - 0.05 * (yMax - yMin), yMax + 0.05 * (yMax - yMin)) }
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * plotWidth }
        func py(_ y: Double) -> Double { top + (1 - (ty(y) - yMin) / (yMax - yMin)) * plotHeight }

        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(left + plotWidth / 2))" y="28" text-anchor="middle" font-size="16">\(escape(title))</text>
        <rect x="\(f(left))" y="\(f(top))" width="\(f(plotWidth))" height="\(f(plotHeight))" fill="none" stroke="#333"/>

        """
        // y ticks: every decade on a log axis (at most ~12 labels), else 6 even steps.
        var yTicks: [(value: Double, label: String)] = []
        if logScaleY {
            let decades = Int(yMax - yMin)
            let every = max(1, (decades + 11) / 12)
            for e in stride(from: Int(yMin), through: Int(yMax), by: every) { yTicks.append((pow(10, Double(e)), "1e\(e)")) }
        } else {
            for k in 0...5 { let v = yMin + Double(k) / 5 * (yMax - yMin); yTicks.append((v, short(v))) }
        }
        for tick in yTicks {
            let y = py(tick.value)
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(y))\" stroke=\"#ddd\"/>\n"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(tick.label)</text>\n"
        }
        for k in 0...5 {
            let v = xMin + Double(k) / 5 * (xMax - xMin)
            let x = px(v)
            svg += "<line x1=\"\(f(x))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(x))\" y2=\"\(f(top + plotHeight + 5))\" stroke=\"#333\"/>\n"
            svg += "<text x=\"\(f(x))\" y=\"\(f(top + plotHeight + 20))\" text-anchor=\"middle\">\(short(v))</text>\n"
        }
        svg += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 15))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        svg += "<text transform=\"translate(20 \(f(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))\(logScaleY ? " (log scale)" : "")</text>\n"

        for (index, s) in series.enumerated() {
            let colour = Self.palette[index % Self.palette.count]
            var segments: [[String]] = [[]]
            for point in s.points {
                if point.x.isFinite && drawable(point.y) {
                    segments[segments.count - 1].append("\(f(px(point.x))),\(f(py(point.y)))")
                } else if !segments[segments.count - 1].isEmpty {
                    segments.append([])
                }
            }
            for segment in segments where !segment.isEmpty {
                svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" points=\"\(segment.joined(separator: " "))\"/>\n"
            }
            let ly = top + 10 + Double(index) * 20
            let lx = left + plotWidth + 15
            svg += "<line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 24))\" y2=\"\(f(ly))\" stroke=\"\(colour)\" stroke-width=\"2.5\"/>\n"
            svg += "<text x=\"\(f(lx + 30))\" y=\"\(f(ly + 4))\">\(escape(s.name))</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }
}

private func f(_ value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
}

private func short(_ value: Double) -> String {
    if value == value.rounded() && abs(value) < 1e9 { return String(Int(value)) }
    let magnitude = abs(value)
    if magnitude >= 1e-3 && magnitude < 1e5 { return String((value * 1000).rounded() / 1000) }
    return String(value)
}

private func escape(_ text: String) -> String {
    var result = ""
    for character in text {
        switch character {
        case "&": result += "&amp;"
        case "<": result += "&lt;"
        case ">": result += "&gt;"
        case "\"": result += "&quot;"
        default: result.append(character)
        }
    }
    return result
}
