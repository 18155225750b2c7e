import Foundation
import Probe
import RunStore

/// An ablation's results with what names them: the samples' ids, the options, the model.
public struct AblationReport: Sendable {
    public let result: AblationResult
    public let sampleIDs: [String]
    public let options: [String]
    public let attributes: [String: String]

    public init(result: AblationResult, sampleIDs: [String], options: [String], attributes: [String: String]) {
        self.result = result
        self.sampleIDs = sampleIDs
        self.options = options
        self.attributes = attributes
    }

    /// The HDF5 layout (`qkprobe ablate --output`):
    ///
    ///     /samples/id              [N] strings, dataset order
    ///     /samples/label           [N] int32, -1 when unlabelled
    ///     /options                 [O] strings (the dataset's options)
    ///     /ablation/heads          [K, 2] int32: layer, head of each ablated head
    ///     /ablation/clean_logit    [N, O] float32: the options' logits after the prompt
    ///     /ablation/ablated_logit  [N, O] float32: the same with the heads off
    ///     /ablation/random_heads   [R, K, 2] int32: each random draw's heads     (R > 0)
    ///     /ablation/random_logit   [R, N, O] float32: the logits with each draw off (R > 0)
    ///     /ablation/mean_z         [K, Dh] float32: the means a mean ablation used (--method mean)
    ///
    /// Root attributes: the method, model, dataset and seed (`attributes`).
    public var datasets: [StoredDataset] {
        let n = result.labels.count, o = result.cleanLogits.first?.count ?? options.count, k = result.heads.count
        func pairs(_ heads: [HeadID]) -> [Int32] { heads.flatMap { [Int32($0.layer), Int32($0.head)] } }
        var datasets = [
            StoredDataset("/samples/id", shape: [n], .strings(sampleIDs), dimensions: ["sample"]),
            StoredDataset("/samples/label", shape: [n], .int32(result.labels.map { Int32($0 ?? -1) }), dimensions: ["sample"]),
            StoredDataset("/options", shape: [options.count], .strings(options), dimensions: ["option"]),
            StoredDataset("/ablation/heads", shape: [k, 2], .int32(pairs(result.heads)), dimensions: ["head", "layer_head"]),
            StoredDataset("/ablation/clean_logit", shape: [n, o], .float32(result.cleanLogits.flatMap { $0 }), dimensions: ["sample", "option"]),
            StoredDataset("/ablation/ablated_logit", shape: [n, o], .float32(result.ablatedLogits.flatMap { $0 }), dimensions: ["sample", "option"]),
        ]
        let r = result.randomHeads.count
        if r > 0 {
            datasets.append(StoredDataset("/ablation/random_heads", shape: [r, k, 2], .int32(result.randomHeads.flatMap(pairs)),
                                          dimensions: ["draw", "head", "layer_head"]))
            datasets.append(StoredDataset("/ablation/random_logit", shape: [r, n, o], .float32(result.randomLogits.flatMap { $0.flatMap { $0 } }),
                                          dimensions: ["draw", "sample", "option"]))
        }
        if result.method == .mean, let width = result.means.values.first?.count {
            datasets.append(StoredDataset("/ablation/mean_z", shape: [k, width], .float32(result.heads.flatMap { result.means[$0]! }),
                                          dimensions: ["head", "d_head"]))
        }
        return datasets
    }

    public func write(to url: URL, overwrite: Bool) throws {
        try ResultFile.write(datasets, to: url, attributes: attributes.merging(["method": result.method.rawValue]) { a, _ in a },
                             overwrite: overwrite)
    }

    // MARK: Text

    /// The overall table: clean, ablated and the random draws, then the paired change.
    public var text: String {
        let clean = result.clean, ablated = result.ablated
        var lines = ["Ablation (\(result.method.rawValue)) of \(result.heads.map(\.name).joined(separator: ", ")): "
                     + "\(clean.labelled) labelled of \(result.labels.count) samples; 95% intervals (Wilson for accuracy, t for means)"]
        let header = ["condition", "accuracy", "95% CI", "mean logit diff", "95% CI"]
        var rows = [row("clean", clean), row("heads off", ablated)]
        let draws = result.random
        if !draws.isEmpty {
            let accuracies = draws.compactMap(\.accuracy).sorted()
            let differences = draws.compactMap(\.logitDifference.mean).sorted()
            rows.append(["random heads off (\(draws.count) draws): median", percent(median(accuracies)),
                         "range " + range(accuracies, percent), number(median(differences)), "range " + range(differences, number)])
        }
        lines.append(align([header] + rows))
        let change = result.change
        lines.append("heads off vs clean: \(change.lost) samples lost, \(change.gained) gained (McNemar exact p = \(String(format: "%.3g", change.mcnemarP))); "
                     + "logit diff change \(number(change.logitDifferenceChange.mean)) \(interval(change.logitDifferenceChange.interval95, number))")
        if let rank = result.randomRank {
            lines.append("share of draws (named set included) whose ablation leaves accuracy at most the named heads': "
                         + "\(String(format: "%.3f", rank.accuracy)); mean logit diff: \(String(format: "%.3f", rank.logitDifference))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func row(_ name: String, _ s: ConditionSummary) -> [String] {
        [name, percent(s.accuracy), interval(s.accuracyInterval95, percent), number(s.logitDifference.mean),
         interval(s.logitDifference.interval95, number)]
    }

    // MARK: JSON

    /// Overall numbers, the random draws' distribution, and per sample: label, clean and
    /// ablated logits, logit differences.
    public func json(perSample: Bool) throws -> String {
        func summary(_ s: ConditionSummary) -> [String: Any] {
            [
                "labelled": s.labelled, "correct": s.correct, "accuracy": orNull(s.accuracy),
                "accuracy_ci95": orNull(s.accuracyInterval95),
                "mean_logit_diff": orNull(s.logitDifference.mean),
                "mean_logit_diff_ci95": orNull(s.logitDifference.interval95),
            ]
        }
        let change = result.change
        var object: [String: Any] = [
            "method": result.method.rawValue,
            "heads": result.heads.map(\.name),
            "samples": result.labels.count,
            "clean": summary(result.clean),
            "ablated": summary(result.ablated),
            "change": [
                "lost": change.lost, "gained": change.gained, "mcnemar_p": change.mcnemarP,
                "mean_logit_diff_change": orNull(change.logitDifferenceChange.mean),
                "mean_logit_diff_change_ci95": orNull(change.logitDifferenceChange.interval95),
            ] as [String: Any],
            "random": zip(result.randomHeads, result.random).map { heads, s in
                summary(s).merging(["heads": heads.map(\.name)]) { a, _ in a }
            },
        ]
        if let rank = result.randomRank {
            object["random_rank"] = ["accuracy": rank.accuracy, "mean_logit_diff": rank.logitDifference]
        }
        if perSample {
            let clean = result.clean, ablated = result.ablated
            object["per_sample"] = result.labels.indices.map { i in
                [
                    "id": sampleIDs[i], "label": result.labels[i].map { $0 as Any } ?? NSNull(),
                    "clean_logit": result.cleanLogits[i].map(Double.init), "ablated_logit": result.ablatedLogits[i].map(Double.init),
                    "clean_logit_diff": orNull(clean.logitDifferences[i]), "ablated_logit_diff": orNull(ablated.logitDifferences[i]),
                ] as [String: Any]
            }
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// A number, or JSON null.
func orNull(_ value: Double?) -> Any { value.map { $0 as Any } ?? NSNull() }
/// An interval as [low, high], or JSON null.
func orNull(_ range: ClosedRange<Double>?) -> Any { range.map { [$0.lowerBound, $0.upperBound] as Any } ?? NSNull() }

func percent(_ value: Double?) -> String { value.map { String(format: "%.1f%%", $0 * 100) } ?? "-" }
func number(_ value: Double?) -> String { value.map { String(format: "%.3f", $0) } ?? "-" }
func interval(_ range: ClosedRange<Double>?, _ format: (Double?) -> String) -> String {
    range.map { "[\(format($0.lowerBound)), \(format($0.upperBound))]" } ?? "-"
}
func range(_ sorted: [Double], _ format: (Double?) -> String) -> String {
    sorted.isEmpty ? "-" : "\(format(sorted.first)) to \(format(sorted.last))"
}
func median(_ sorted: [Double]) -> Double? {
    guard !sorted.isEmpty else { return nil }
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/// Columns padded to their widest cell.
func align(_ rows: [[String]]) -> String {
    let widths = (0 ..< (rows.first?.count ?? 0)).map { c in rows.map { $0[c].count }.max() ?? 0 }
    return rows.map { row in
        row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
            .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }.joined(separator: "\n")
}

extension AblationResult {
    /// Reads back the logits and heads of an `ablate --output` file (means are not needed to
    /// summarise it and are left out).
    public init(reading file: ResultFileReader) throws {
        let path = file.url.path
        let clean = try file.numbers("/ablation/clean_logit"), ablated = try file.numbers("/ablation/ablated_logit")
        let labels = try file.numbers("/samples/label"), heads = try file.numbers("/ablation/heads")
        guard clean.shape.count == 2, ablated.shape == clean.shape, labels.shape == [clean.shape[0]],
              heads.shape.count == 2, heads.shape[1] == 2 else {
            throw CausalError("\(path): not an ablation file (shapes of /ablation/* and /samples/label disagree)")
        }
        let n = clean.shape[0], o = clean.shape[1]
        func rows(_ values: ArraySlice<Double>) -> [[Float]] {
            (0 ..< n).map { i in values[(values.startIndex + i * o) ..< (values.startIndex + (i + 1) * o)].map(Float.init) }
        }
        func headList(_ values: ArraySlice<Double>) -> [HeadID] {
            stride(from: values.startIndex, to: values.endIndex, by: 2).map { HeadID(layer: Int(values[$0]), head: Int(values[$0 + 1])) }
        }
        var randomLogits: [[[Float]]] = [], randomHeads: [[HeadID]] = []
        if try file.has("/ablation/random_logit") {
            let logits = try file.numbers("/ablation/random_logit"), drawn = try file.numbers("/ablation/random_heads")
            guard logits.shape.count == 3, logits.shape.dropFirst().elementsEqual(clean.shape),
                  drawn.shape == [logits.shape[0], heads.shape[0], 2] else {
                throw CausalError("\(path): /ablation/random_logit or /ablation/random_heads has the wrong shape")
            }
            let r = logits.shape[0], k = heads.shape[0]
            randomLogits = (0 ..< r).map { rows(logits.values[($0 * n * o) ..< (($0 + 1) * n * o)]) }
            randomHeads = (0 ..< r).map { headList(drawn.values[($0 * k * 2) ..< (($0 + 1) * k * 2)]) }
        }
        let method = try file.attribute("method").flatMap(AblationMethod.init(rawValue:)) ?? .zero
        self.init(heads: headList(heads.values[...]), method: method, randomHeads: randomHeads,
                  labels: labels.values.map { $0 < 0 ? nil : Int($0) },
                  cleanLogits: rows(clean.values[...]), ablatedLogits: rows(ablated.values[...]), randomLogits: randomLogits, means: [:])
    }
}
