import Foundation

/// A layer × head heatmap of any per-head score (attention scans, ablation effects), white at
/// `low` to dark red at `high`, with some heads outlined (e.g. the QK-selected ones) and the
/// top-scoring heads listed beside it.
public struct ScoreHeatmap: Sendable {
    public let title: String
    public let subtitle: String
    public let layers: Int
    public let heads: Int
    /// [layers × heads] row-major; NaN cells are grey.
    public let values: [Double]
    /// Heads outlined in black, as (layer, head), with what the outline means.
    public let marked: [(layer: Int, head: Int)]
    public let markedLabel: String

    public init(title: String, subtitle: String, layers: Int, heads: Int, values: [Double],
                marked: [(layer: Int, head: Int)] = [], markedLabel: String = "") {
        precondition(values.count == layers * heads, "\(values.count) values for \(layers) × \(heads) heads")
        self.title = title
        self.subtitle = subtitle
        self.layers = layers
        self.heads = heads
        self.values = values
        self.marked = marked
        self.markedLabel = markedLabel
    }

    public func svg(top: Int = 8) -> String {
        let cell = 18.0, left = 56.0, topMargin = 66.0
        let gridWidth = Double(heads) * cell, gridHeight = Double(layers) * cell
        let finite = values.filter(\.isFinite)
        let low = min(finite.min() ?? 0, 0), high = max(finite.max() ?? 1, low + 1e-9)
        let listX = left + gridWidth + 90
        let width = listX + 260, height = topMargin + max(gridHeight, Double(top + 2) * 15) + 50
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(fmt(width))" height="\(fmt(height))" font-family="sans-serif" font-size="11">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(fmt(left))" y="20" font-size="14">\(escape(title))</text>
        <text x="\(fmt(left))" y="36">\(escape(subtitle))</text>

        """
        let markedSet = Set(marked.map { $0.layer * heads + $0.head })
        for l in 0 ..< layers {
            let y = topMargin + Double(l) * cell
            svg += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(y + cell * 0.7))\" text-anchor=\"end\">L\(l)</text>\n"
            for h in 0 ..< heads {
                let value = values[l * heads + h]
                let stroke = markedSet.contains(l * heads + h) ? " stroke=\"black\" stroke-width=\"2\"" : ""
                svg += "<rect x=\"\(fmt(left + Double(h) * cell))\" y=\"\(fmt(y))\" width=\"\(fmt(cell - 1))\" height=\"\(fmt(cell - 1))\" "
                    + "fill=\"\(sequentialColour(value, low: low, high: high))\"\(stroke)><title>L\(l)H\(h): \(String(format: "%.4f", value))</title></rect>\n"
            }
        }
        for h in 0 ..< heads {
            svg += "<text x=\"\(fmt(left + (Double(h) + 0.5) * cell))\" y=\"\(fmt(topMargin + gridHeight + 14))\" text-anchor=\"middle\">H\(h)</text>\n"
        }
        let barX = left + gridWidth + 16, barHeight = min(gridHeight, 200.0)
        for i in 0 ..< 40 {
            let t = 1 - Double(i) / 39
            svg += "<rect x=\"\(fmt(barX))\" y=\"\(fmt(topMargin + Double(i) * barHeight / 40))\" width=\"12\" height=\"\(fmt(barHeight / 40 + 0.5))\" "
                + "fill=\"\(sequentialColour(low + t * (high - low), low: low, high: high))\"/>\n"
        }
        svg += "<text x=\"\(fmt(barX + 16))\" y=\"\(fmt(topMargin + 8))\">\(String(format: "%.3g", high))</text>\n"
        svg += "<text x=\"\(fmt(barX + 16))\" y=\"\(fmt(topMargin + barHeight))\">\(String(format: "%.3g", low))</text>\n"
        let ranked = values.indices.filter { values[$0].isFinite }.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
        svg += "<text x=\"\(fmt(listX))\" y=\"\(fmt(topMargin))\" font-size=\"12\">top \(min(top, ranked.count)) heads</text>\n"
        for (rank, index) in ranked.prefix(top).enumerated() {
            let name = "L\(index / heads)H\(index % heads)"
            let mark = markedSet.contains(index) ? " (\(markedLabel.isEmpty ? "marked" : markedLabel))" : ""
            svg += "<text x=\"\(fmt(listX))\" y=\"\(fmt(topMargin + Double(rank + 1) * 15))\">\(name)  \(String(format: "%.4f", values[index]))\(escape(mark))</text>\n"
        }
        if !marked.isEmpty {
            svg += "<rect x=\"\(fmt(listX))\" y=\"\(fmt(topMargin + Double(top + 2) * 15 - 10))\" width=\"12\" height=\"12\" fill=\"white\" stroke=\"black\" stroke-width=\"2\"/>"
                + "<text x=\"\(fmt(listX + 18))\" y=\"\(fmt(topMargin + Double(top + 2) * 15))\">outlined: \(escape(markedLabel))</text>\n"
        }
        return svg + "</svg>\n"
    }
}

/// White at `low` to dark red at `high`; grey for NaN.
func sequentialColour(_ value: Double, low: Double, high: Double) -> String {
    guard value.isFinite else { return "#cccccc" }
    let t = max(0, min(1, (value - low) / (high - low)))
    let (r, g, b) = (1 - 0.4 * t, 1 - 0.9 * t, 1 - 0.9 * t)
    return String(format: "#%02x%02x%02x", Int((r * 255).rounded()), Int((g * 255).rounded()), Int((b * 255).rounded()))
}

private func fmt(_ x: Double) -> String { String(format: "%.1f", x) }

private func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
}
