import LogicTasks
import Probe
import Statistics

/// How one way of answering (a head or the model) does on a set of rows: its accuracy with a 95%
/// Wilson interval, its balanced accuracy, and how often it gives its most frequent answer.
public struct RuleSummary: Sendable, Equatable {
    public let correct: Int
    /// Rows counted: complete and labelled.
    public let count: Int
    /// Mean per-label recall; nil without rows.
    public let balancedAccuracy: Double?
    /// The option the rule gives most often (the first on a tie), and on what share of the rows;
    /// nil without rows.
    public let mostFrequentAnswer: Int?
    public let answerShare: Double?

    init(labels: [Int], answers: [Int]) {
        count = labels.count
        correct = zip(labels, answers).filter { $0 == $1 }.count
        balancedAccuracy = Classification.balancedAccuracy(labels: labels, answers: answers)
        let most = Classification.mostFrequent(answers)
        mostFrequentAnswer = most?.value
        answerShare = most.map { Double($0.count) / Double(answers.count) }
    }

    public var accuracy: Double? { Proportion(successes: correct, trials: count).estimate }
    public var ci95: ClosedRange<Double>? { wilsonInterval(successes: correct, trials: count) }
    /// Gives the same answer on every row (a constant head scores the share of that label).
    public var constant: Bool { count > 0 && answerShare == 1 }
}

/// A head against the model on the same rows: McNemar's exact test on the rows where exactly one
/// of them is right.
public struct ModelComparison: Sendable, Equatable {
    /// Head accuracy minus model accuracy; nil without rows.
    public let difference: Double?
    public let onlyHead: Int
    public let onlyModel: Int
    /// Two-sided exact McNemar p (1 when they are never discordant).
    public var p: Double { mcnemarExactP(onlyFirst: onlyHead, onlySecond: onlyModel) }
}

/// The statistics of every head of a run on a set of rows, beside the model's and the
/// majority-class baseline, with the label-permutation test of the best head.
///
/// Accuracy alone misleads in three ways this corrects: it has no error bar (the Wilson interval);
/// a head that always answers the majority option looks good on an unbalanced set (balanced
/// accuracy, answer share, the constant flag, the majority-class baseline); and the best of
/// L × H heads is a maximum, which noise alone pushes up (the permutation null of that maximum
/// gives a family-wise p for the best head and a max-T adjusted p for every head).
public struct HeadStatistics: Sendable {
    public static let defaultPermutations = 1000

    public let layers: Int
    public let heads: Int
    /// The rows counted (complete, labelled), as indices into the samples.
    public let rows: [Int]
    public let model: RuleSummary
    /// `[L * H]`, layer-major.
    public let perHead: [RuleSummary]
    public let vsModel: [ModelComparison]
    /// The most frequent label and its share: the accuracy of always answering it.
    public let majorityLabel: Int?
    public let majorityClassAccuracy: Double?
    public let permutation: PermutationMaxTest
    public let permutationSeed: UInt64

    /// Statistics over `rows` (default: every complete, labelled row) of `samples`.
    public init(_ samples: ScoredSamples, rows: [Int]? = nil, permutations: Int = defaultPermutations, seed: UInt64 = 0) {
        let rows = rows ?? samples.scoredIndices
        let labels = rows.map { samples.labels[$0] }
        let modelAnswers = rows.map { samples.modelChoice(sample: $0) }
        let headAnswers = (0..<(samples.layers * samples.heads)).map { index in
            rows.map { samples.headChoice(sample: $0, layer: index / samples.heads, head: index % samples.heads) }
        }
        layers = samples.layers
        heads = samples.heads
        self.rows = rows
        model = RuleSummary(labels: labels, answers: modelAnswers)
        perHead = headAnswers.map { RuleSummary(labels: labels, answers: $0) }
        vsModel = headAnswers.indices.map { index in
            let pairs = Classification.discordantPairs(labels: labels, first: headAnswers[index], second: modelAnswers)
            let difference = labels.isEmpty ? nil : Double(pairs.onlyFirst - pairs.onlySecond) / Double(labels.count)
            return ModelComparison(difference: difference, onlyHead: pairs.onlyFirst, onlyModel: pairs.onlySecond)
        }
        let majority = Classification.mostFrequent(labels)
        majorityLabel = majority?.value
        majorityClassAccuracy = majority.map { Double($0.count) / Double(labels.count) }
        var generator = SplitMix64(seed: seed)
        permutation = PermutationMaxTest(labels: labels, answers: headAnswers, options: samples.options,
                                         permutations: permutations, using: &generator)
        permutationSeed = seed
    }

    public var count: Int { rows.count }

    /// The most accurate head (the first in layer-then-head order on a tie); nil without heads.
    public var bestHead: Int? { permutation.best }

    /// The family-wise p of the best head: how often the best of all heads does at least as well
    /// on shuffled labels.
    public var bestHeadFamilywiseP: Double? { count == 0 ? nil : permutation.familywiseP }

    /// Heads that give the same answer on every row.
    public var constantHeads: Int { perHead.filter(\.constant).count }

    /// The max-T adjusted p of a head.
    public func adjustedP(_ index: Int) -> Double? { count == 0 ? nil : permutation.adjustedP[index] }

    /// Heads ranked by accuracy, best first; equal accuracies keep layer-then-head order.
    public var ranked: [Int] {
        perHead.indices.sorted { perHead[$0].correct > perHead[$1].correct || (perHead[$0].correct == perHead[$1].correct && $0 < $1) }
    }

    /// One plain sentence on what the best head shows, for reports and the demo.
    public func verdict(options: [String], alpha: Double = 0.05) -> String {
        guard let best = bestHead, count > 0, let p = bestHeadFamilywiseP, let accuracy = perHead[best].accuracy else {
            return "no labelled rows: nothing to test"
        }
        let name = headName(layer: best / heads, head: best % heads)
        let family = "best-of-\(layers * heads) family-wise p = \(pValue(p))"
        let setting = "\(permutation.permutations) label permutations, seed \(permutationSeed)"
        if p <= alpha {
            return "\(name) at \(percent(accuracy)) beats chance after selection (\(family), \(setting))"
        }
        let needed = permutation.significantAccuracy(alpha: alpha).map { "; a head would need \(percent($0)) for p < \(alpha)" } ?? ""
        return "exploratory: no head beats chance after selection; the best, \(name) at \(percent(accuracy)), "
            + "is what chance gives (\(family), \(setting))\(needed)"
    }
}

/// A p-value as people read it: two decimals down to 0.01, then three, then scientific notation
/// (printed as it is, never as "< 0.001": a permutation p has a floor of 1/(permutations + 1)).
public func pValue(_ p: Double) -> String {
    if p >= 0.01 { return String(format: "%.2f", p) }
    if p >= 0.001 { return String(format: "%.3f", p) }
    return String(format: "%.1e", p)
}

/// A 95% interval of accuracies, in percent: "[46.4, 52.0]".
public func interval(_ range: ClosedRange<Double>?) -> String {
    guard let range else { return "-" }
    return String(format: "[%.1f, %.1f]", range.lowerBound * 100, range.upperBound * 100)
}
