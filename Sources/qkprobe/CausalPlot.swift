import Causal
import Foundation
import Probe
import Reports
import RunStore
import Selection

/// `qkprobe plot` on the files of `scan` and `ablate`.
enum CausalPlot {
    /// The SVG of a scan or ablation file; nil for any other file (a probe run).
    static func svg(of url: URL, headsFrom: String?, top: Int) throws -> String? {
        guard let file = try? ResultFileReader(url: url) else { return nil }
        if let kind = try file.attribute("kind"), try file.has("/scores") {
            let scores = try file.numbers("/scores")
            guard scores.shape.count == 2 else { throw CausalError("\(url.path): /scores is not [layers, heads]") }
            let marked = try headsFrom.map { try selectedHeads($0, top: top) } ?? []
            if let outside = marked.first(where: { $0.layer >= scores.shape[0] || $0.head >= scores.shape[1] }) {
                throw CausalError("\(headsFrom ?? ""): head \(outside.name) is outside the scan's \(scores.shape[0]) layers × \(scores.shape[1]) heads (a selection of another model?)")
            }
            let model = try file.attribute("model_name") ?? "model"
            return ScoreHeatmap(
                title: "\(model): \(kind) scores", subtitle: "\(try file.attribute("scored") ?? "?") scored positions or runs",
                layers: scores.shape[0], heads: scores.shape[1], values: scores.values,
                marked: marked.map { (layer: $0.layer, head: $0.head) }, markedLabel: marked.isEmpty ? "" : "top \(marked.count) QK heads"
            ).svg(top: max(top, 8))
        }
        guard try file.has("/ablation/clean_logit") else { return nil }
        if headsFrom != nil {
            throw CausalError("\(url.path): an ablation file names its own heads; --heads-from outlines heads on a scan file")
        }
        let result = try AblationResult(reading: file)
        let clean = result.clean, ablated = result.ablated, random = result.random
        let names = result.heads.map(\.name).joined(separator: ",")
        return AblationChart(
            title: "\(try file.attribute("model_name") ?? "model"): \(result.method.rawValue) ablation of \(names)",
            subtitle: "n = \(clean.labelled) labelled samples; 95% intervals (Wilson, t); dots: \(random.count) random draws of the same layers",
            measures: [
                AblationMeasure(name: "accuracy", clean: clean.accuracy ?? .nan, cleanInterval: clean.accuracyInterval95,
                                named: ablated.accuracy ?? .nan, namedInterval: ablated.accuracyInterval95,
                                random: random.compactMap(\.accuracy)),
                AblationMeasure(name: "mean logit difference (right - wrong)", clean: clean.logitDifference.mean ?? .nan,
                                cleanInterval: clean.logitDifference.interval95, named: ablated.logitDifference.mean ?? .nan,
                                namedInterval: ablated.logitDifference.interval95, random: random.compactMap(\.logitDifference.mean)),
            ],
            namedLabel: "heads off").svg()
    }

    /// The best `top` heads of a selection file's first calibration set.
    static func selectedHeads(_ path: String, top: Int) throws -> [HeadID] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CausalError("\(path): cannot read it (\(error.localizedDescription))")
        }
        let selection: HeadSelection
        do { selection = try HeadSelection.decode(from: data) } catch {
            throw CausalError("\(path): not a selection file from qkprobe select --output")
        }
        guard let ranked = selection.choices.first?.heads.sorted(by: { $0.rank < $1.rank }), !ranked.isEmpty else {
            throw CausalError("\(path): the selection has no heads")
        }
        guard top <= ranked.count else {
            throw CausalError("\(path): --top \(top) but the selection kept \(ranked.count) heads (select with --top-k \(top) or more)")
        }
        return ranked.prefix(top).map { HeadID(layer: $0.layer, head: $0.head) }
    }
}
