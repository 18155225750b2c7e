import Foundation

/// One measure of an ablation (accuracy, or mean logit difference) under each condition: the
/// clean model, the named heads off, and each random draw off; intervals where known.
public struct AblationMeasure: Sendable {
    public let name: String
    public let clean: Double
    public let cleanInterval: ClosedRange<Double>?
    public let named: Double
    public let namedInterval: ClosedRange<Double>?
    public let random: [Double]

    public init(name: String, clean: Double, cleanInterval: ClosedRange<Double>?, named: Double,
                namedInterval: ClosedRange<Double>?, random: [Double]) {
        self.name = name
        self.clean = clean
        self.cleanInterval = cleanInterval
        self.named = named
        self.namedInterval = namedInterval
        self.random = random
    }
}

/// Side-by-side panels, one per measure: the clean model and the named (e.g. QK-selected)
/// heads switched off, each a point with its 95% interval, and every random draw as a dot, so
/// one sees whether the named heads hurt more than random heads of the same layers.
public struct AblationChart: Sendable {
    public let title: String
    public let subtitle: String
    public let measures: [AblationMeasure]
    public let namedLabel: String

    public init(title: String, subtitle: String, measures: [AblationMeasure], namedLabel: String) {
        self.title = title
        self.subtitle = subtitle
        self.measures = measures
        self.namedLabel = namedLabel
    }

    public func svg() -> String {
        let panelWidth = 260.0, panelHeight = 260.0, left = 70.0, top = 70.0, gap = 90.0
        let width = left + Double(measures.count) * (panelWidth + gap), height = top + panelHeight + 70
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(fmt(width))" height="\(fmt(height))" font-family="sans-serif" font-size="11">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(fmt(left))" y="20" font-size="14">\(escape(title))</text>
        <text x="\(fmt(left))" y="36">\(escape(subtitle))</text>

        """
        for (index, measure) in measures.enumerated() {
            let x0 = left + Double(index) * (panelWidth + gap)
            var all = [measure.clean, measure.named] + measure.random
            for interval in [measure.cleanInterval, measure.namedInterval].compactMap({ $0 }) {
                all += [interval.lowerBound, interval.upperBound]
            }
            let finite = all.filter(\.isFinite)
            var low = finite.min() ?? 0, high = finite.max() ?? 1
            let pad = max((high - low) * 0.1, 1e-6)
            low -= pad
            high += pad
            func py(_ v: Double) -> Double { top + panelHeight * (1 - (v - low) / (high - low)) }
            svg += "<rect x=\"\(fmt(x0))\" y=\"\(fmt(top))\" width=\"\(fmt(panelWidth))\" height=\"\(fmt(panelHeight))\" fill=\"none\" stroke=\"#888\"/>\n"
            svg += "<text x=\"\(fmt(x0))\" y=\"\(fmt(top - 8))\" font-size=\"12\">\(escape(measure.name))</text>\n"
            for t in 0 ... 4 {
                let v = low + (high - low) * Double(t) / 4
                svg += "<line x1=\"\(fmt(x0))\" x2=\"\(fmt(x0 + panelWidth))\" y1=\"\(fmt(py(v)))\" y2=\"\(fmt(py(v)))\" stroke=\"#eee\"/>"
                    + "<text x=\"\(fmt(x0 - 4))\" y=\"\(fmt(py(v) + 4))\" text-anchor=\"end\">\(String(format: "%.3g", v))</text>\n"
            }
            let columns: [(String, Double)] = [("clean", x0 + panelWidth * 0.2), (namedLabel, x0 + panelWidth * 0.5),
                                               ("random (\(measure.random.count))", x0 + panelWidth * 0.8)]
            for (label, cx) in columns {
                svg += "<text x=\"\(fmt(cx))\" y=\"\(fmt(top + panelHeight + 16))\" text-anchor=\"middle\">\(escape(label))</text>\n"
            }
            for (value, interval, cx, colour) in [(measure.clean, measure.cleanInterval, columns[0].1, "black"),
                                                   (measure.named, measure.namedInterval, columns[1].1, "#d62728")] {
                if let interval {
                    svg += "<line x1=\"\(fmt(cx))\" x2=\"\(fmt(cx))\" y1=\"\(fmt(py(interval.lowerBound)))\" y2=\"\(fmt(py(interval.upperBound)))\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
                }
                svg += "<circle cx=\"\(fmt(cx))\" cy=\"\(fmt(py(value)))\" r=\"5\" fill=\"\(colour)\"><title>\(String(format: "%.4f", value))</title></circle>\n"
            }
            for (i, value) in measure.random.enumerated() {
                let jitter = (Double(i % 7) - 3) * 5
                svg += "<circle cx=\"\(fmt(columns[2].1 + jitter))\" cy=\"\(fmt(py(value)))\" r=\"3.5\" fill=\"#1f77b4\" fill-opacity=\"0.7\"><title>\(String(format: "%.4f", value))</title></circle>\n"
            }
            svg += "<line x1=\"\(fmt(x0))\" x2=\"\(fmt(x0 + panelWidth))\" y1=\"\(fmt(py(measure.named)))\" y2=\"\(fmt(py(measure.named)))\" stroke=\"#d62728\" stroke-dasharray=\"4,3\"/>\n"
        }
        return svg + "</svg>\n"
    }
}

private func fmt(_ x: Double) -> String { String(format: "%.1f", x) }

private func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
}
