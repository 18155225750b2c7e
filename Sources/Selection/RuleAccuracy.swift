import Probe

/// How often one way of answering (a head, an ensemble, the model) is right on a set of
/// samples: overall and per steps and per distractors value. Counts only complete, labelled
/// rows; the groups are the known (non-negative) values among them, ascending.
public struct RuleAccuracy: Codable, Sendable, Equatable {
    public struct Group: Codable, Sendable, Equatable {
        public var value: Int
        public var correct: Int
        public var count: Int
        public var accuracy: Double
    }

    /// "L14H3", "majority_vote", "z_sum" or "model".
    public var rule: String
    public var correct: Int
    public var count: Int
    /// nil when no row counts.
    public var accuracy: Double?
    public var bySteps: [Group]
    public var byDistractors: [Group]

    enum CodingKeys: String, CodingKey {
        case rule, correct, count, accuracy, bySteps = "by_steps", byDistractors = "by_distractors"
    }

    /// Scores `choose(n)`, the option picked for row `n`, against the labels.
    init(rule: String, samples: ScoredSamples, choose: (Int) -> Int) {
        let rows = samples.scoredIndices
        let right = Set(rows.filter { choose($0) == samples.labels[$0] })
        func groups(_ key: [Int]) -> [Group] {
            Dictionary(grouping: rows.filter { key[$0] >= 0 }) { key[$0] }
                .sorted { $0.key < $1.key }
                .map { value, members in
                    let correct = members.filter(right.contains).count
                    return Group(value: value, correct: correct, count: members.count,
                                 accuracy: Double(correct) / Double(members.count))
                }
        }
        self.rule = rule
        correct = right.count
        count = rows.count
        accuracy = rows.isEmpty ? nil : Double(right.count) / Double(rows.count)
        bySteps = groups(samples.steps)
        byDistractors = groups(samples.distractors)
    }

    public static let majorityVote = "majority_vote"
    public static let zSum = "z_sum"
    public static let model = "model"
}
