import Foundation
import Probe
import Statistics

/// What a report says about a run: its head accuracy tables and statistics, and where they came from.
public struct HeadReport: Sendable {
    public let modelName: String
    public let modelSHA256: String
    public let datasetName: String
    public let options: [String]
    public let rotary: String
    public let scale: String
    /// The anchor rule and the answer cue it looks for; nil where unknown.
    public let anchorRule: String?
    public let answerCue: String?
    /// How the prompts were made beyond the template ("chat chatml", "4 shots, seed 1"), for the title.
    public let promptNotes: [String]
    public let samples: Int
    public let tables: HeadAccuracyTables
    /// Intervals, baselines, McNemar tests and the permutation test over the labelled rows.
    public let statistics: HeadStatistics
    /// The scores the statistics came from, for per-group statistics.
    let scored: ScoredSamples

    public init(modelName: String, modelSHA256: String, datasetName: String, options: [String],
                rotary: String, scale: String, anchorRule: String? = nil, answerCue: String? = nil,
                promptNotes: [String] = [], samples scored: ScoredSamples,
                permutations: Int = HeadStatistics.defaultPermutations, seed: UInt64 = 0) {
        self.promptNotes = promptNotes
        self.modelName = modelName
        self.modelSHA256 = modelSHA256
        self.datasetName = datasetName
        self.options = options
        self.rotary = rotary
        self.scale = scale
        self.anchorRule = anchorRule
        self.answerCue = answerCue
        self.scored = scored
        samples = scored.count
        tables = headAccuracyTables(scored)
        statistics = HeadStatistics(scored, permutations: permutations, seed: seed)
    }
}

public enum ReportFormat: String, CaseIterable, Sendable {
    case table, csv, markdown, json
}

public enum Grouping: String, CaseIterable, Sendable {
    /// Reasoning steps, distractor facts, or the source's own group (`/samples/group`).
    case steps, distractors, group
}

/// The name people write for a head: layer and head, as in "L14H3".
public func headName(layer: Int, head: Int) -> String { "L\(layer)H\(head)" }

extension HeadReport {
    /// Renders the top heads against the model and the majority class, each with n, a 95%
    /// interval, balanced accuracy, answer share, McNemar's p against the model and the max-T
    /// adjusted p; or, with a grouping, the model and the top heads per group with n and intervals.
    /// Table and Markdown open with a plain sentence on whether any head beats chance after
    /// selection.
    public func render(_ format: ReportFormat, top: Int, by grouping: Grouping? = nil) -> String {
        if format == .json { return json(top: top) }
        let table = grouping.map { groupTable($0, top: top) } ?? headTable(top: top)
        switch format {
        case .csv:
            return table.csv
        case .markdown:
            return preamble.map { "\($0)\n\n" }.joined() + table.markdown
        case .table, .json:
            return preamble.joined(separator: "\n") + "\n\n" + table.aligned
        }
    }

    /// The lines above a table: what was probed, the baselines, and the verdict.
    var preamble: [String] {
        let s = statistics
        var lines = ["\(modelName) on \(datasetName): \(s.count) labelled of \(samples) samples, "
            + "options \(options.map { "\"\($0)\"" }.joined(separator: "/")), q/k \(rotary)-rotary, scale \(scale)"
            + (anchorRule.map { rule in ", anchor \(rule)" + (answerCue.map { " \"\($0)\"" } ?? "") } ?? "")
            + promptNotes.map { ", " + $0 }.joined()]
        if let accuracy = s.majorityClassAccuracy, let label = s.majorityLabel {
            lines.append("n = \(s.count); model \(percent(s.model.accuracy)) \(interval(s.model.ci95)); "
                + "always answering the majority class \"\(options[label])\" scores \(percent(accuracy)); "
                + "intervals are 95% Wilson, \"vs model\" is McNemar's exact test, "
                + "\"adj. p\" is max-T over all \(s.layers * s.heads) heads")
        }
        lines.append(s.verdict(options: options) + ".")
        if s.constantHeads > 0 {
            lines.append("\(s.constantHeads) of \(s.layers * s.heads) heads give the same answer on every row (marked constant): "
                + "their accuracy is that answer's share of the labels, not a skill.")
        }
        return lines
    }

    private func headTable(top: Int) -> TextTable {
        let s = statistics
        let columns = ["rank", "head", "n", "accuracy", "95% CI", "balanced", "answer share", "vs model", "McNemar p", "adj. p", "note"]
        var rows: [[String]] = [["-", "model", "\(s.count)", percent(s.model.accuracy), interval(s.model.ci95),
                                 percent(s.model.balancedAccuracy), percent(s.model.answerShare), "", "", "",
                                 s.model.constant ? "constant" : ""]]
        if let label = s.majorityLabel, let accuracy = s.majorityClassAccuracy {
            let correct = Int((accuracy * Double(s.count)).rounded())
            rows.append(["-", "always \"\(options[label])\"", "\(s.count)", percent(accuracy),
                         interval(wilsonInterval(successes: correct, trials: s.count)), percent(1 / Double(Set(s.rows.map { scored.labels[$0] }).count)),
                         percent(1.0), "", "", "", "majority class"])
        }
        for (rank, index) in s.ranked.prefix(max(0, top)).enumerated() {
            let head = s.perHead[index], versus = s.vsModel[index]
            let adjusted = s.adjustedP(index)
            let note = [head.constant ? "constant" : nil, adjusted.map { $0 <= 0.05 } == true ? "beats chance" : nil]
                .compactMap { $0 }.joined(separator: ", ")
            rows.append([String(rank + 1), headName(layer: index / s.heads, head: index % s.heads), "\(head.count)",
                         percent(head.accuracy), interval(head.ci95), percent(head.balancedAccuracy), percent(head.answerShare),
                         versus.difference.map { points(Float($0)) } ?? "-", s.count == 0 ? "-" : pValue(versus.p),
                         adjusted.map(pValue) ?? "-", note])
        }
        return TextTable(columns: columns, rows: rows)
    }

    /// Per group of `grouping`: n, the majority class, the model and the top heads of the whole
    /// run, each as accuracy and 95% interval.
    private func groupTable(_ grouping: Grouping, top: Int) -> TextTable {
        let groups = groupStatistics(grouping)
        let best = statistics.ranked.prefix(max(0, top))
        func cell(_ summary: RuleSummary) -> String {
            summary.count == 0 ? "-" : "\(percent(summary.accuracy)) \(interval(summary.ci95))"
        }
        var rows = [["n"] + groups.map { "\($0.statistics.count)" },
                    ["majority class"] + groups.map { percent($0.statistics.majorityClassAccuracy) },
                    ["model"] + groups.map { cell($0.statistics.model) }]
        rows += best.map { index in
            [headName(layer: index / statistics.heads, head: index % statistics.heads)] + groups.map { cell($0.statistics.perHead[index]) }
        }
        return TextTable(columns: ["rule"] + groups.map { grouping == .group ? $0.value : "\(grouping.rawValue)=\($0.value)" }, rows: rows)
    }

    /// The statistics of each known value of `grouping`, ascending (numbers as numbers; no
    /// permutation test: that is for the whole run).
    public func groupStatistics(_ grouping: Grouping) -> [(value: String, statistics: HeadStatistics)] {
        let rows = statistics.rows
        let keys: [String], values: [String]
        switch grouping {
        case .steps, .distractors:
            let numbers = grouping == .steps ? scored.steps : scored.distractors
            keys = numbers.map { $0 >= 0 ? "\($0)" : "" }
            values = Set(rows.map { numbers[$0] }.filter { $0 >= 0 }).sorted().map { "\($0)" }
        case .group:
            keys = scored.groups
            values = Set(rows.map { keys[$0] }.filter { !$0.isEmpty }).sorted()
        }
        return values.map { value in
            (value, HeadStatistics(scored, rows: rows.filter { keys[$0] == value }, permutations: 0))
        }
    }
}

extension HeadReport {
    /// The whole report as `HeadTableDocument` JSON, the file `qkprobe verify` reads.
    public func document(top: Int) -> HeadTableDocument {
        let s = statistics
        func matrix(_ flat: [Float]) -> [[Double?]] {
            (0..<tables.layers).map { l in (0..<tables.heads).map { h in jsonNumber(flat[l * tables.heads + h]) } }
        }
        func group(_ g: AccuracyGroup, _ statistics: HeadStatistics?) -> HeadTableDocument.Group {
            .init(value: g.value ?? -1, count: g.count, baseline: jsonNumber(g.baseline),
                  baselineCI95: statistics?.model.ci95.map { [$0.lowerBound, $0.upperBound] },
                  majorityClassAccuracy: statistics?.majorityClassAccuracy, accuracy: matrix(g.heads))
        }
        func rule(_ r: RuleSummary) -> HeadTableDocument.Rule {
            .init(accuracy: r.accuracy, ci95: r.ci95.map { [$0.lowerBound, $0.upperBound] }, correct: r.correct, n: r.count,
                  balancedAccuracy: r.balancedAccuracy, answerShare: r.answerShare, constant: r.constant)
        }
        let rank = Dictionary(uniqueKeysWithValues: s.ranked.enumerated().map { ($1, $0 + 1) })
        let entries = s.perHead.indices.map { index in
            let r = s.perHead[index], versus = s.vsModel[index]
            return HeadTableDocument.HeadEntry(
                head: headName(layer: index / s.heads, head: index % s.heads), layer: index / s.heads, headIndex: index % s.heads,
                rank: rank[index] ?? 0, accuracy: r.accuracy, ci95: r.ci95.map { [$0.lowerBound, $0.upperBound] },
                correct: r.correct, n: r.count, balancedAccuracy: r.balancedAccuracy, answerShare: r.answerShare,
                majorityAnswer: r.mostFrequentAnswer.map { options[$0] }, constant: r.constant,
                vsModel: .init(difference: versus.difference, onlyHead: versus.onlyHead, onlyModel: versus.onlyModel,
                               p: versus.p),
                adjustedP: s.adjustedP(index))
        }
        let steps = groupStatistics(.steps), distractors = groupStatistics(.distractors)
        return HeadTableDocument(
            modelName: modelName, modelSHA256: modelSHA256, datasetName: datasetName, options: options,
            qkRope: rotary, qkScale: scale, anchorRule: anchorRule, answerCue: answerCue, nSamples: samples, nLabelled: tables.overall.count,
            layers: tables.layers, heads: tables.heads, n: s.count,
            majorityClass: s.majorityLabel.map { options[$0] }, majorityClassAccuracy: s.majorityClassAccuracy,
            bestHead: s.count == 0 ? nil : s.bestHead.map { headName(layer: $0 / s.heads, head: $0 % s.heads) },
            bestHeadFamilywiseP: s.bestHeadFamilywiseP,
            permutations: .init(count: s.permutation.permutations, seed: s.permutationSeed,
                                significantAccuracy: s.permutation.significantAccuracy(alpha: 0.05)),
            verdict: s.verdict(options: options), model: rule(s.model),
            headStatistics: entries,
            baseline: jsonNumber(tables.overall.baseline),
            accuracy: matrix(tables.overall.heads),
            top: tables.ranked().prefix(max(0, top)).map {
                .init(layer: $0.layer, head: $0.head, name: headName(layer: $0.layer, head: $0.head), accuracy: jsonNumber($0.accuracy))
            },
            bySteps: tables.bySteps.map { g in group(g, steps.first { $0.value == g.value.map(String.init) }?.statistics) },
            byDistractors: tables.byDistractors.map { g in group(g, distractors.first { $0.value == g.value.map(String.init) }?.statistics) })
    }

    private func json(top: Int) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        // Only strings, integers, booleans and finite doubles go in, so encoding cannot fail.
        let data = (try? encoder.encode(document(top: top))) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// A head report as JSON (`qkprobe heads --format json`). Accuracies are fractions; null marks an
/// empty group. Matrices are indexed [layer][head]; `heads` has one entry per head, layer-major.
public struct HeadTableDocument: Codable, Sendable, Equatable {
    public struct Head: Codable, Sendable, Equatable {
        public var layer: Int
        public var head: Int
        public var name: String
        public var accuracy: Double?
    }

    public struct Group: Codable, Sendable, Equatable {
        public var value: Int
        public var count: Int
        public var baseline: Double?
        public var baselineCI95: [Double]?
        public var majorityClassAccuracy: Double?
        public var accuracy: [[Double?]]

        enum CodingKeys: String, CodingKey {
            case value, count, baseline, accuracy
            case baselineCI95 = "baseline_ci95", majorityClassAccuracy = "majority_class_accuracy"
        }
    }

    /// The model's own answers (or any rule's) on the labelled rows.
    public struct Rule: Codable, Sendable, Equatable {
        public var accuracy: Double?
        /// [low, high], 95% Wilson; null without rows.
        public var ci95: [Double]?
        public var correct: Int
        public var n: Int
        public var balancedAccuracy: Double?
        public var answerShare: Double?
        public var constant: Bool

        enum CodingKeys: String, CodingKey {
            case accuracy, ci95, correct, n, constant
            case balancedAccuracy = "balanced_accuracy", answerShare = "answer_share"
        }
    }

    public struct Comparison: Codable, Sendable, Equatable {
        /// Head accuracy minus model accuracy.
        public var difference: Double?
        /// Rows only the head gets right, and only the model.
        public var onlyHead: Int
        public var onlyModel: Int
        /// McNemar's exact two-sided p.
        public var p: Double

        enum CodingKeys: String, CodingKey {
            case difference, p, onlyHead = "only_head", onlyModel = "only_model"
        }
    }

    public struct HeadEntry: Codable, Sendable, Equatable {
        /// "L15H7".
        public var head: String
        public var layer: Int
        public var headIndex: Int
        /// 1 for the most accurate head; ties keep layer-then-head order.
        public var rank: Int
        public var accuracy: Double?
        public var ci95: [Double]?
        public var correct: Int
        public var n: Int
        public var balancedAccuracy: Double?
        public var answerShare: Double?
        /// The option the head gives most often.
        public var majorityAnswer: String?
        public var constant: Bool
        public var vsModel: Comparison
        /// Max-T adjusted p over all heads (label permutations); null without rows.
        public var adjustedP: Double?

        enum CodingKeys: String, CodingKey {
            case head, layer, rank, accuracy, ci95, correct, n, constant
            case headIndex = "head_index", balancedAccuracy = "balanced_accuracy", answerShare = "answer_share"
            case majorityAnswer = "majority_answer", vsModel = "vs_model", adjustedP = "adjusted_p"
        }
    }

    public struct Permutations: Codable, Sendable, Equatable {
        public var count: Int
        public var seed: UInt64
        /// The accuracy the best head needs for a family-wise p ≤ 0.05.
        public var significantAccuracy: Double?

        enum CodingKeys: String, CodingKey {
            case count, seed, significantAccuracy = "significant_accuracy_05"
        }
    }

    public var modelName: String
    public var modelSHA256: String
    public var datasetName: String
    public var options: [String]
    public var qkRope: String
    public var qkScale: String
    /// Absent in documents written before the anchor rule was recorded.
    public var anchorRule: String?
    public var answerCue: String?
    public var nSamples: Int
    public var nLabelled: Int
    public var layers: Int
    public var heads: Int
    /// Labelled rows the statistics count (as `nLabelled`).
    public var n: Int
    public var majorityClass: String?
    public var majorityClassAccuracy: Double?
    public var bestHead: String?
    public var bestHeadFamilywiseP: Double?
    public var permutations: Permutations
    /// The report's sentence on whether any head beats chance after selection.
    public var verdict: String
    public var model: Rule
    public var headStatistics: [HeadEntry]
    public var baseline: Double?
    public var accuracy: [[Double?]]
    public var top: [Head]
    public var bySteps: [Group]
    public var byDistractors: [Group]

    enum CodingKeys: String, CodingKey {
        case modelName = "model_name", modelSHA256 = "model_sha256", datasetName = "dataset_name", options
        case qkRope = "qk_rope", qkScale = "qk_scale", anchorRule = "anchor_rule", answerCue = "answer_cue", nSamples = "n_samples", nLabelled = "n_labelled"
        case layers = "n_layers", heads = "n_heads", n, majorityClass = "majority_class"
        case majorityClassAccuracy = "majority_class_accuracy", bestHead = "best_head"
        case bestHeadFamilywiseP = "best_head_familywise_p", permutations, verdict, model, headStatistics = "heads"
        case baseline, accuracy, top, bySteps = "by_steps", byDistractors = "by_distractors"
    }

    public static func decode(from data: Data) throws -> HeadTableDocument {
        try JSONDecoder().decode(HeadTableDocument.self, from: data)
    }
}

/// NaN (an empty group) becomes JSON null. Goes through the float's shortest decimal, so that
/// 0.475 is written as 0.475 and not as the double nearest the float, 0.4749999940395355.
public func jsonNumber(_ x: Float) -> Double? { x.isFinite ? Double("\(x)") : nil }
