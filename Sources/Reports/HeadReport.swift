import Foundation
import Probe

/// What a report says about a run: its head accuracy tables and where they came from.
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

    public init(modelName: String, modelSHA256: String, datasetName: String, options: [String],
                rotary: String, scale: String, anchorRule: String? = nil, answerCue: String? = nil,
                promptNotes: [String] = [], samples: Int, tables: HeadAccuracyTables) {
        self.promptNotes = promptNotes
        self.modelName = modelName
        self.modelSHA256 = modelSHA256
        self.datasetName = datasetName
        self.options = options
        self.rotary = rotary
        self.scale = scale
        self.anchorRule = anchorRule
        self.answerCue = answerCue
        self.samples = samples
        self.tables = tables
    }
}

public enum ReportFormat: String, CaseIterable, Sendable {
    case table, csv, markdown, json
}

public enum Grouping: String, CaseIterable, Sendable {
    case steps, distractors
}

/// The name people write for a head: layer and head, as in "L14H3".
public func headName(layer: Int, head: Int) -> String { "L\(layer)H\(head)" }

extension HeadReport {
    /// Renders the top heads against the baseline, or, with a grouping, the top heads and the
    /// baseline per steps or distractors value.
    public func render(_ format: ReportFormat, top: Int, by grouping: Grouping? = nil) -> String {
        if format == .json { return json(top: top) }
        let columns: [String]
        let rows: [[String]]
        let best = Array(tables.ranked().prefix(max(0, top)))
        if let grouping {
            let groups = grouping == .steps ? tables.bySteps : tables.byDistractors
            columns = ["head"] + groups.map { "\(grouping.rawValue)=\($0.value ?? -1) (n=\($0.count))" }
            rows = [["model"] + groups.map { percent($0.baseline) }]
                + best.map { h in [headName(layer: h.layer, head: h.head)] + groups.map { percent($0.heads[h.layer * tables.heads + h.head]) } }
        } else {
            let baseline = tables.overall.baseline
            columns = ["rank", "head", "accuracy", "vs model"]
            rows = [["-", "model", percent(baseline), ""]]
                + best.enumerated().map { rank, h in
                    [String(rank + 1), headName(layer: h.layer, head: h.head), percent(h.accuracy), points(h.accuracy - baseline)]
                }
        }
        let table = TextTable(columns: columns, rows: rows)
        switch format {
        case .csv:
            return table.csv
        case .markdown:
            return table.markdown
        case .table, .json:
            let title = "\(modelName) on \(datasetName): \(tables.overall.count) labelled of \(samples) samples, "
                + "options \(options.map { "\"\($0)\"" }.joined(separator: "/")), q/k \(rotary)-rotary, scale \(scale)"
                + (anchorRule.map { rule in ", anchor \(rule)" + (answerCue.map { " \"\($0)\"" } ?? "") } ?? "")
                + promptNotes.map { ", " + $0 }.joined() + "\n"
            return title + table.aligned
        }
    }

    /// The whole table as `HeadTableDocument` JSON, the file `qkprobe verify` reads.
    public func document(top: Int) -> HeadTableDocument {
        func matrix(_ flat: [Float]) -> [[Double?]] {
            (0..<tables.layers).map { l in (0..<tables.heads).map { h in jsonNumber(flat[l * tables.heads + h]) } }
        }
        func group(_ g: AccuracyGroup) -> HeadTableDocument.Group {
            .init(value: g.value ?? -1, count: g.count, baseline: jsonNumber(g.baseline), accuracy: matrix(g.heads))
        }
        return HeadTableDocument(
            modelName: modelName, modelSHA256: modelSHA256, datasetName: datasetName, options: options,
            qkRope: rotary, qkScale: scale, anchorRule: anchorRule, answerCue: answerCue, nSamples: samples, nLabelled: tables.overall.count,
            layers: tables.layers, heads: tables.heads, baseline: jsonNumber(tables.overall.baseline),
            accuracy: matrix(tables.overall.heads),
            top: tables.ranked().prefix(max(0, top)).map {
                .init(layer: $0.layer, head: $0.head, name: headName(layer: $0.layer, head: $0.head), accuracy: jsonNumber($0.accuracy))
            },
            bySteps: tables.bySteps.map(group), byDistractors: tables.byDistractors.map(group))
    }

    private func json(top: Int) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        // Only strings, integers and finite doubles go in, so encoding cannot fail.
        let data = (try? encoder.encode(document(top: top))) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// A head accuracy table as JSON (`qkprobe heads --format json`). Accuracies are fractions;
/// null marks an empty group. Matrices are indexed [layer][head].
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
        public var accuracy: [[Double?]]
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
    public var baseline: Double?
    public var accuracy: [[Double?]]
    public var top: [Head]
    public var bySteps: [Group]
    public var byDistractors: [Group]

    enum CodingKeys: String, CodingKey {
        case modelName = "model_name", modelSHA256 = "model_sha256", datasetName = "dataset_name", options
        case qkRope = "qk_rope", qkScale = "qk_scale", anchorRule = "anchor_rule", answerCue = "answer_cue", nSamples = "n_samples", nLabelled = "n_labelled"
        case layers, heads, baseline, accuracy, top, bySteps = "by_steps", byDistractors = "by_distractors"
    }

    public static func decode(from data: Data) throws -> HeadTableDocument {
        try JSONDecoder().decode(HeadTableDocument.self, from: data)
    }
}

/// NaN (an empty group) becomes JSON null. Goes through the float's shortest decimal, so that
/// 0.475 is written as 0.475 and not as the double nearest the float, 0.4749999940395355.
public func jsonNumber(_ x: Float) -> Double? { x.isFinite ? Double("\(x)") : nil }
