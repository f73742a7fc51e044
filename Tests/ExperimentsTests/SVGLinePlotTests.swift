// The plot is plain SVG text: one polyline per series, a legend entry per series, decade
// ticks on a log axis, and gaps where a value cannot be drawn.

import Foundation
import Testing
@testable import Experiments
import LoFT
import Plots

@Suite struct SVGLinePlotTests {
    @Test func logPlotHasLinesLegendAndDecades() {
        var plot = SVGLinePlot(title: "loss <test>", xLabel: "step", yLabel: "loss", logScaleY: true)
        plot.add("loft", values: [1, 1e-3, 1e-6])
        plot.add("lora", values: [1, 0.5, 0.25])
        let svg = plot.render()
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>\n"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 2)
        #expect(svg.contains(">loft</text>") && svg.contains(">lora</text>"))
        #expect(svg.contains(">1e-6</text>") && svg.contains(">1e0</text>"))
        #expect(svg.contains("loss &lt;test&gt;"))
        #expect(svg.contains("(log scale)"))
    }

    @Test func nonPositiveValuesBreakALogLine() {
        var plot = SVGLinePlot(title: "t", xLabel: "x", yLabel: "y", logScaleY: true)
        plot.add("s", values: [1, 0.1, 0, 0.01, .nan, 0.001])
        let svg = plot.render()
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 3)
    }

    @Test func pointsMapToThePlotArea() {
        var plot = SVGLinePlot(title: "t", xLabel: "x", yLabel: "y", logScaleY: true)
        plot.add("s", values: [100, 1])
        // x from 0 to 1 spans the plot (90 ... 670); y decades 1e0 ... 1e2 span 460 ... 50.
        #expect(plot.render().contains("points=\"90,50 670,460\""))
    }
}
