// The head tables a run file stores, computed from its scores: what a probe writes when its
// last row is done and what a merge of shards writes for the merged rows.
import Foundation
import Probe
import RunStore

extension HeadTables {
    /// The stored tables, one row per steps/distractors value the file lays out (NaN where no
    /// labelled sample has that value).
    public init(_ tables: HeadAccuracyTables, stepsValues: [Int], distractorsValues: [Int]) {
        let empty = [Float](repeating: .nan, count: tables.layers * tables.heads)
        func rows(_ groups: [AccuracyGroup], _ values: [Int]) -> (heads: [Float], baseline: [Float]) {
            let byValue = Dictionary(uniqueKeysWithValues: groups.map { ($0.value ?? -1, $0) })
            return (values.flatMap { byValue[$0]?.heads ?? empty }, values.map { byValue[$0]?.baseline ?? .nan })
        }
        let steps = rows(tables.bySteps, stepsValues)
        let distractors = rows(tables.byDistractors, distractorsValues)
        self.init(accuracy: tables.overall.heads, accuracyBySteps: steps.heads, accuracyByDistractors: distractors.heads,
                  baselineAccuracy: tables.overall.baseline, baselineAccuracyBySteps: steps.baseline,
                  baselineAccuracyByDistractors: distractors.baseline)
    }

    /// The tables of a run file's finished rows, recomputed from its scores.
    public init(recomputedFrom run: RunReader) {
        self.init(HeadReport(run: run).tables, stepsValues: run.stepsValues, distractorsValues: run.distractorsValues)
    }
}

extension ShardMerge {
    /// Merges the shards of one run into a new run file at `output`, with its head tables
    /// recomputed from the merged scores (see RunStore's ShardMerge for the checks).
    public static func merge(_ inputs: [URL], into output: URL, overwrite: Bool = false) throws -> MergeSummary {
        try merge(inputs, into: output, overwrite: overwrite, headTables: HeadTables.init(recomputedFrom:))
    }
}
