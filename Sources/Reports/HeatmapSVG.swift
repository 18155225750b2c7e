import Foundation
import Probe
import Statistics

extension HeadReport {
    /// A layer × head heatmap of accuracy, coloured against chance, the majority-class accuracy
    /// (red above, blue below, white at it; not against the model, which may be below chance);
    /// heads whose max-T adjusted p is at most 0.05 outlined, constant heads grey. Beside it, a
    /// panel of accuracy by steps for the top heads and the model, with n and 95% intervals.
    public func heatmapSVG(topHeads: Int = 5) -> String {
        let cell = 18.0, left = 56.0, top = 66.0
        let gridWidth = Double(tables.heads) * cell, gridHeight = Double(tables.layers) * cell
        let panelLeft = left + gridWidth + 110, panelWidth = 300.0, panelHeight = max(gridHeight, 220)
        let width = panelLeft + panelWidth + 140, height = top + max(gridHeight, panelHeight) + 70
        let chance = Float(statistics.majorityClassAccuracy ?? 0.5)
        let model = tables.overall.baseline
        let spread = max(tables.overall.heads.filter(\.isFinite).map { abs($0 - chance) }.max() ?? 0, 0.01)
        let significant = Set(statistics.perHead.indices.filter { (statistics.adjustedP($0) ?? 1) <= 0.05 })
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(fmt(width))" height="\(fmt(height))" font-family="sans-serif" font-size="11">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(fmt(left))" y="20" font-size="14">\(escape(modelName)) on \(escape(datasetName)): QK-score head accuracy (n=\(tables.overall.count))</text>
        <text x="\(fmt(left))" y="36">white = chance (majority class \(percent(chance))); red above, blue below; grey: constant heads; outlined: adj. p ≤ 0.05; model \(percent(model))</text>
        <text x="\(fmt(left))" y="52">\(escape(statistics.verdict(options: options)))</text>

        """
        for l in 0..<tables.layers {
            let y = top + Double(l) * cell
            svg += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(y + cell * 0.7))\" text-anchor=\"end\">L\(l)</text>\n"
            for h in 0..<tables.heads {
                let index = l * tables.heads + h
                let accuracy = tables.overall.heads[index]
                let x = left + Double(h) * cell
                let stroke = significant.contains(index) ? " stroke=\"black\" stroke-width=\"1.5\"" : ""
                let summary = statistics.perHead[index]
                let fill = summary.constant ? "#d9d9d9" : divergingColour(accuracy, centre: chance, spread: spread)
                let detail = "\(percent(accuracy)) \(interval(summary.ci95)), n=\(summary.count)"
                    + (summary.constant ? ", constant" : "") + (statistics.adjustedP(index).map { ", adj. p \(pValue($0))" } ?? "")
                svg += "<rect x=\"\(fmt(x))\" y=\"\(fmt(y))\" width=\"\(fmt(cell - 1))\" height=\"\(fmt(cell - 1))\" "
                    + "fill=\"\(fill)\"\(stroke)>"
                    + "<title>\(headName(layer: l, head: h)): \(detail)</title></rect>\n"
            }
        }
        for h in 0..<tables.heads {
            svg += "<text x=\"\(fmt(left + (Double(h) + 0.5) * cell))\" y=\"\(fmt(top + gridHeight + 14))\" text-anchor=\"middle\">H\(h)</text>\n"
        }
        // Colour bar: chance - spread ... chance + spread, with chance marked.
        let barX = left + gridWidth + 16, barHeight = min(gridHeight, 200.0)
        for i in 0..<40 {
            let t = 1 - Double(i) / 39
            svg += "<rect x=\"\(fmt(barX))\" y=\"\(fmt(top + Double(i) * barHeight / 40))\" width=\"12\" height=\"\(fmt(barHeight / 40 + 0.5))\" "
                + "fill=\"\(divergingColour(chance + Float(2 * t - 1) * spread, centre: chance, spread: spread))\"/>\n"
        }
        svg += "<text x=\"\(fmt(barX + 16))\" y=\"\(fmt(top + 8))\">\(percent(chance + spread))</text>\n"
        svg += "<line x1=\"\(fmt(barX - 3))\" x2=\"\(fmt(barX + 15))\" y1=\"\(fmt(top + barHeight / 2))\" y2=\"\(fmt(top + barHeight / 2))\" stroke=\"black\"/>\n"
        svg += "<text x=\"\(fmt(barX + 16))\" y=\"\(fmt(top + barHeight / 2 + 4))\">chance \(percent(chance))</text>\n"
        svg += "<text x=\"\(fmt(barX + 16))\" y=\"\(fmt(top + barHeight))\">\(percent(chance - spread))</text>\n"
        svg += stepsPanel(x: panelLeft, y: top, width: panelWidth, height: panelHeight, topHeads: topHeads)
        return svg + "</svg>\n"
    }

    private func stepsPanel(x: Double, y: Double, width: Double, height: Double, topHeads: Int) -> String {
        var svg = "<text x=\"\(fmt(x))\" y=\"\(fmt(y - 8))\" font-size=\"12\">accuracy by steps, 95% intervals</text>\n"
        svg += "<rect x=\"\(fmt(x))\" y=\"\(fmt(y))\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" fill=\"none\" stroke=\"#888\"/>\n"
        let groups = tables.bySteps
        let groupStatistics = self.groupStatistics(.steps)
        let best = tables.ranked().prefix(topHeads)
        // The vertical range: the plotted intervals, widened to whole 5% steps, so that heads a
        // few points apart near chance do not look like one line.
        let intervals = groupStatistics.flatMap { g in
            ([g.statistics.model] + best.map { g.statistics.perHead[$0.layer * tables.heads + $0.head] }).compactMap(\.ci95)
        }
        let points: [Float] = groups.flatMap { g -> [Float] in [g.baseline] + best.map { g.heads[$0.layer * tables.heads + $0.head] } }
        let ends: [Float] = intervals.flatMap { range -> [Float] in [Float(range.lowerBound), Float(range.upperBound)] }
        let plotted = (points + ends).filter(\.isFinite)
        let low = max(0, ((Double(plotted.min() ?? 0) - 0.02) * 20).rounded(.down) / 20)
        let high = min(1, ((Double(plotted.max() ?? 1) + 0.02) * 20).rounded(.up) / 20)
        func py(_ accuracy: Float) -> Double { y + height * (1 - (Double(accuracy) - low) / max(high - low, 0.05)) }
        for tick in stride(from: low, through: high + 1e-9, by: high - low > 0.3 ? 0.1 : 0.05) {
            let ty = py(Float(tick))
            svg += "<line x1=\"\(fmt(x))\" x2=\"\(fmt(x + width))\" y1=\"\(fmt(ty))\" y2=\"\(fmt(ty))\" stroke=\"#eee\"/>"
                + "<text x=\"\(fmt(x - 4))\" y=\"\(fmt(ty + 4))\" text-anchor=\"end\">\(Int((tick * 100).rounded()))%</text>\n"
        }
        guard !groups.isEmpty else {
            return svg + "<text x=\"\(fmt(x + width / 2))\" y=\"\(fmt(y + height / 2))\" text-anchor=\"middle\">no steps in this dataset</text>\n"
        }
        func px(_ i: Int) -> Double { groups.count == 1 ? x + width / 2 : x + 12 + (width - 24) * Double(i) / Double(groups.count - 1) }
        for (i, g) in groups.enumerated() {
            svg += "<text x=\"\(fmt(px(i)))\" y=\"\(fmt(y + height + 14))\" text-anchor=\"middle\">\(g.value ?? -1)</text>"
                + "<text x=\"\(fmt(px(i)))\" y=\"\(fmt(y + height + 26))\" text-anchor=\"middle\" font-size=\"9\">n=\(g.count)</text>\n"
        }
        svg += "<text x=\"\(fmt(x + width / 2))\" y=\"\(fmt(y + height + 40))\" text-anchor=\"middle\">steps</text>\n"
        let palette = ["#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
        var series: [(name: String, colour: String, dash: Bool, values: [Float], intervals: [ClosedRange<Double>?])] =
            [("model", "black", true, groups.map(\.baseline), groupStatistics.map(\.statistics.model.ci95))]
        for (i, h) in best.enumerated() {
            let index = h.layer * tables.heads + h.head
            series.append((headName(layer: h.layer, head: h.head), palette[i % palette.count], false,
                           groups.map { $0.heads[index] }, groupStatistics.map(\.statistics.perHead[index].ci95)))
        }
        for (k, s) in series.enumerated() {
            // Whiskers, each series nudged sideways so that they do not overlap.
            let nudge = (Double(k) - Double(series.count - 1) / 2) * 3
            for (i, range) in s.intervals.enumerated() where i < groups.count {
                guard let range else { continue }
                svg += "<line x1=\"\(fmt(px(i) + nudge))\" x2=\"\(fmt(px(i) + nudge))\" y1=\"\(fmt(py(Float(range.lowerBound))))\" "
                    + "y2=\"\(fmt(py(Float(range.upperBound))))\" stroke=\"\(s.colour)\" stroke-opacity=\"0.5\"/>\n"
            }
            let points = s.values.enumerated().filter { $0.element.isFinite }.map { "\(fmt(px($0.offset))),\(fmt(py($0.element)))" }
            svg += "<polyline fill=\"none\" stroke=\"\(s.colour)\" stroke-width=\"2\"\(s.dash ? " stroke-dasharray=\"5,3\"" : "") points=\"\(points.joined(separator: " "))\"/>\n"
            let ly = y + 10 + Double(k) * 15
            svg += "<line x1=\"\(fmt(x + width + 10))\" x2=\"\(fmt(x + width + 30))\" y1=\"\(fmt(ly))\" y2=\"\(fmt(ly))\" stroke=\"\(s.colour)\" stroke-width=\"2\"\(s.dash ? " stroke-dasharray=\"5,3\"" : "")/>"
                + "<text x=\"\(fmt(x + width + 34))\" y=\"\(fmt(ly + 4))\">\(escape(s.name))</text>\n"
        }
        return svg
    }
}

/// White at `centre`, saturating to red (above) or blue (below) at `centre ± spread`; grey for NaN.
func divergingColour(_ value: Float, centre: Float, spread: Float) -> String {
    guard value.isFinite else { return "#cccccc" }
    let t = Double(max(-1, min(1, (value - centre) / spread)))
    let (r, g, b): (Double, Double, Double) = t >= 0 ? (1, 1 - 0.8 * t, 1 - 0.85 * t) : (1 + 0.85 * t, 1 + 0.6 * t, 1)
    return String(format: "#%02x%02x%02x", Int((r * 255).rounded()), Int((g * 255).rounded()), Int((b * 255).rounded()))
}

private func fmt(_ x: Double) -> String { String(format: "%.1f", x) }

private func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
}
