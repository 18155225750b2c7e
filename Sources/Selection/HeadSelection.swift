import Foundation
import Probe
import Reports
import Statistics

/// Heads chosen on calibration runs and tested on other runs: what `qkprobe select` computes
/// and, as JSON, what it writes. Every set is evaluated with the heads of every calibration
/// set, so the calibration sets themselves appear as columns (in-sample) beside the test sets.
///
/// The result goes to its own file, never into a run file: a finished run file stays as the
/// probe closed it (its layout is made up front so that a kill cannot damage it, and adding
/// groups later is exactly such a risky write), and a selection spans several runs, so it
/// belongs to none of them.
public struct HeadSelection: Codable, Sendable, Equatable {
    /// One run (or part of a run) that heads were chosen on or tested on.
    public struct EvaluatedSet: Codable, Sendable, Equatable {
        public var name: String
        public var path: String
        /// "calibration" or "test".
        public var role: String
        public var datasetName: String
        public var datasetSHA256: String
        public var options: [String]
        /// Rows in the set (for a split part: its labelled rows).
        public var samples: Int
        /// Complete, labelled rows: the ones every accuracy counts.
        public var labelled: Int

        enum CodingKeys: String, CodingKey {
            case name, path, role, options, samples, labelled
            case datasetName = "dataset_name", datasetSHA256 = "dataset_sha256"
        }
    }

    /// A head picked on a calibration set, with the statistics the z-sum ensemble uses.
    public struct ChosenHead: Codable, Sendable, Equatable {
        public var rank: Int
        public var name: String
        public var layer: Int
        public var head: Int
        public var scoreMean: Double
        public var scoreSD: Double
        /// Per option, the offset the calibrated rule adds to this head's scores (fitted on the
        /// calibration rows only; `OptionOffsets`).
        public var optionOffsets: [Double]

        enum CodingKeys: String, CodingKey {
            case rank, name, layer, head, scoreMean = "score_mean", scoreSD = "score_sd", optionOffsets = "option_offsets"
        }
    }

    /// How every rule does on one set: the chosen heads in rank order, the same heads with
    /// their option-bias offsets ("L14H3 calibrated"), then "majority_vote", "z_sum" and "model".
    public struct SetResult: Codable, Sendable, Equatable {
        public var set: String
        /// Complete, labelled rows.
        public var n: Int
        /// The accuracy of always answering the set's most frequent label.
        public var majorityClassAccuracy: Double?
        public var rules: [RuleAccuracy]

        enum CodingKeys: String, CodingKey {
            case set, n, rules, majorityClassAccuracy = "majority_class_accuracy"
        }

        public func rule(_ name: String) -> RuleAccuracy? { rules.first { $0.rule == name } }
    }

    /// The heads one calibration set picked, and how they do everywhere.
    public struct Choice: Codable, Sendable, Equatable {
        public var calibration: String
        public var heads: [ChosenHead]
        /// One per set, in the order of `sets`.
        public var results: [SetResult]
    }

    public var format = "qkprobe-selection"
    public var formatVersion = 1
    public var modelName: String
    public var modelSHA256: String
    public var layers: Int
    public var heads: Int
    public var qkRope: String
    public var qkScale: String
    public var topK: Int
    public var split: SplitSettings?
    /// The label permutations behind every rule's `chance_p`, and their seed.
    public var permutations: Int
    public var permutationSeed: UInt64
    /// Calibration sets first, then test sets, as given.
    public var sets: [EvaluatedSet]
    /// One per calibration set.
    public var choices: [Choice]

    enum CodingKeys: String, CodingKey {
        case format, split, sets, choices
        case formatVersion = "format_version", modelName = "model_name", modelSHA256 = "model_sha256"
        case layers = "n_layers", heads = "n_heads", qkRope = "qk_rope", qkScale = "qk_scale", topK = "top_k"
        case permutations, permutationSeed = "permutation_seed"
    }

    /// Ranks the heads on each calibration run, keeps the best `topK`, and evaluates them, their
    /// two ensembles and the model baseline on every run. Throws if the runs cannot be compared
    /// (different models, head layouts or q/k conventions), if `topK` is not between 1 and the
    /// number of heads, or if a calibration run has no labelled rows.
    public init(calibration: [ProbeRun], test: [ProbeRun], topK: Int, split: SplitSettings? = nil,
                permutations: Int = HeadStatistics.defaultPermutations, permutationSeed: UInt64 = 0) throws {
        guard let first = calibration.first else {
            throw SelectionError("select", "needs at least one calibration run")
        }
        let all = calibration + test
        for run in all.dropFirst() { try first.ensureComparable(with: run) }
        var names = Set<String>()
        for run in all where !names.insert(run.name).inserted {
            throw SelectionError(run.name, "is given more than once")
        }
        let headCount = first.layers * first.heads
        guard (1...headCount).contains(topK) else {
            throw SelectionError(first.name, "--top-k must be between 1 and the run's \(headCount) heads, not \(topK)")
        }
        for run in calibration where run.labelledCount == 0 {
            throw SelectionError(run.name, "has no complete, labelled rows to rank heads on")
        }

        modelName = first.header.modelName
        modelSHA256 = first.header.modelSHA256
        layers = first.layers
        heads = first.heads
        qkRope = first.header.qkRope.rawValue
        qkScale = first.scaleName
        self.topK = topK
        self.split = split
        self.permutations = permutations
        self.permutationSeed = permutationSeed
        sets = all.enumerated().map { index, run in
            EvaluatedSet(name: run.name, path: run.url.path, role: index < calibration.count ? "calibration" : "test",
                         datasetName: run.header.datasetName, datasetSHA256: run.header.datasetSHA256,
                         options: run.options, samples: run.samples.count, labelled: run.labelledCount)
        }
        choices = calibration.map { calibrationRun in
            let best = calibrationRun.bestHeads(topK).map(\.id)
            let ensemble = HeadEnsemble(heads: best, calibration: calibrationRun.samples)
            let calibrationRows = calibrationRun.samples.scoredIndices
            let offsets = best.map { id in
                OptionOffsets(fittingScores: calibrationRows.map { calibrationRun.samples.scores($0, id) },
                              labels: calibrationRows.map { calibrationRun.samples.labels[$0] },
                              options: calibrationRun.samples.options)
            }
            let chosen = best.enumerated().map { rank, id in
                ChosenHead(rank: rank + 1, name: id.name, layer: id.layer, head: id.head,
                           scoreMean: ensemble.scoreMean[rank], scoreSD: ensemble.scoreDeviation[rank],
                           optionOffsets: offsets[rank].offsets)
            }
            let results = all.map { run in
                let samples = run.samples
                let model = { samples.modelChoice(sample: $0) }
                func rule(_ name: String, _ choose: (Int) -> Int) -> RuleAccuracy {
                    RuleAccuracy(rule: name, samples: samples, model: name == RuleAccuracy.model ? nil : model,
                                 permutations: permutations, seed: permutationSeed, choose: choose)
                }
                let rules = best.map { id in rule(id.name) { samples.headChoice(sample: $0, layer: id.layer, head: id.head) } }
                    + best.indices.map { r in
                        rule(best[r].name + RuleAccuracy.calibratedSuffix) { offsets[r].choice(samples.scores($0, best[r])) }
                    } + [
                        rule(RuleAccuracy.majorityVote) { ensemble.majorityVote(samples, sample: $0) },
                        rule(RuleAccuracy.zSum) { ensemble.zSumChoice(samples, sample: $0) },
                        rule(RuleAccuracy.model, model),
                    ]
                let labels = samples.scoredIndices.map { samples.labels[$0] }
                return SetResult(set: run.name, n: labels.count, majorityClassAccuracy: Classification.majorityShare(labels),
                                 rules: rules)
            }
            return Choice(calibration: calibrationRun.name, heads: chosen, results: results)
        }
    }

    public static func decode(from data: Data) throws -> HeadSelection {
        try JSONDecoder().decode(HeadSelection.self, from: data)
    }
}
