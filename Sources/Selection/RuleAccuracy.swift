import LogicTasks
import Probe
import Statistics

/// How often one way of answering (a head, an ensemble, the model) is right on a set of
/// samples: overall, with a 95% Wilson interval, balanced accuracy, answer share, McNemar's test
/// against the model and a label-permutation test against chance; and per steps and per
/// distractors value. Counts only complete, labelled rows; the groups are the known
/// (non-negative) values among them, ascending.
public struct RuleAccuracy: Codable, Sendable, Equatable {
    public struct Group: Codable, Sendable, Equatable {
        public var value: Int
        public var correct: Int
        public var count: Int
        public var accuracy: Double
        public var ci95: [Double]
    }

    /// The rule against the model on the same rows.
    public struct Comparison: Codable, Sendable, Equatable {
        public var difference: Double?
        public var onlyRule: Int
        public var onlyModel: Int
        /// McNemar's exact two-sided p.
        public var p: Double

        enum CodingKeys: String, CodingKey {
            case difference, p, onlyRule = "only_rule", onlyModel = "only_model"
        }
    }

    /// "L14H3", "L14H3 calibrated", "majority_vote", "z_sum" or "model".
    public var rule: String
    public var correct: Int
    public var count: Int
    /// nil when no row counts.
    public var accuracy: Double?
    /// [low, high], 95% Wilson; nil when no row counts.
    public var ci95: [Double]?
    public var balancedAccuracy: Double?
    /// Share of rows on which the rule gives its most frequent answer; 1 for a constant rule.
    public var answerShare: Double?
    public var constant: Bool
    /// nil for the model itself.
    public var vsModel: Comparison?
    /// Label-permutation p of this one rule against chance on these rows: how often shuffled
    /// labels give it at least as many right answers. Selection-free only where the rule was not
    /// chosen on these rows (a test set).
    public var chanceP: Double?
    public var bySteps: [Group]
    public var byDistractors: [Group]

    enum CodingKeys: String, CodingKey {
        case rule, correct, count, accuracy, ci95, constant
        case balancedAccuracy = "balanced_accuracy", answerShare = "answer_share", vsModel = "vs_model", chanceP = "chance_p"
        case bySteps = "by_steps", byDistractors = "by_distractors"
    }

    /// Scores `choose(n)`, the option picked for row `n`, against the labels; `model` is the
    /// model's pick, for McNemar's test (nil for the model itself). The permutation test uses
    /// `permutations` shuffles of a SplitMix64 stream seeded with `seed`.
    init(rule: String, samples: ScoredSamples, model: ((Int) -> Int)? = nil, permutations: Int = 0, seed: UInt64 = 0,
         choose: (Int) -> Int) {
        let rows = samples.scoredIndices
        let labels = rows.map { samples.labels[$0] }
        let answers = rows.map(choose)
        let right = Set(zip(rows, zip(answers, labels)).filter { $1.0 == $1.1 }.map(\.0))
        func groups(_ key: [Int]) -> [Group] {
            Dictionary(grouping: rows.filter { key[$0] >= 0 }) { key[$0] }
                .sorted { $0.key < $1.key }
                .map { value, members in
                    let correct = members.filter(right.contains).count
                    let interval = wilsonInterval(successes: correct, trials: members.count)
                    return Group(value: value, correct: correct, count: members.count,
                                 accuracy: Double(correct) / Double(members.count),
                                 ci95: interval.map { [$0.lowerBound, $0.upperBound] } ?? [])
                }
        }
        self.rule = rule
        correct = right.count
        count = rows.count
        accuracy = rows.isEmpty ? nil : Double(right.count) / Double(rows.count)
        ci95 = wilsonInterval(successes: correct, trials: count).map { [$0.lowerBound, $0.upperBound] }
        balancedAccuracy = Classification.balancedAccuracy(labels: labels, answers: answers)
        answerShare = Classification.majorityShare(answers)
        constant = !rows.isEmpty && answerShare == 1
        if let model {
            let pairs = Classification.discordantPairs(labels: labels, first: answers, second: rows.map(model))
            vsModel = Comparison(difference: rows.isEmpty ? nil : Double(pairs.onlyFirst - pairs.onlySecond) / Double(rows.count),
                                 onlyRule: pairs.onlyFirst, onlyModel: pairs.onlySecond,
                                 p: mcnemarExactP(onlyFirst: pairs.onlyFirst, onlySecond: pairs.onlySecond))
        } else {
            vsModel = nil
        }
        if rows.isEmpty || permutations == 0 {
            chanceP = nil
        } else {
            var generator = SplitMix64(seed: seed)
            chanceP = PermutationMaxTest(labels: labels, answers: [answers], options: samples.options,
                                         permutations: permutations, using: &generator).adjustedP[0]
        }
        bySteps = groups(samples.steps)
        byDistractors = groups(samples.distractors)
    }

    public static let majorityVote = "majority_vote"
    public static let zSum = "z_sum"
    public static let model = "model"
    /// The suffix of a head's option-bias calibrated rule: "L14H3 calibrated".
    public static let calibratedSuffix = " calibrated"
}
