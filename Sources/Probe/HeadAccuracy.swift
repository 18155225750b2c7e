/// Per-head and model-baseline accuracy over a set of samples.
public struct AccuracyGroup: Sendable, Equatable {
    /// The steps or distractors value of this group; nil for the whole set.
    public let value: Int?
    /// Labelled samples in the group.
    public let count: Int
    /// `[L, H]` row-major; NaN when the group is empty.
    public let heads: [Float]
    /// The model's own answer (argmax of the option logits); NaN when the group is empty.
    public let baseline: Float

    public init(value: Int?, count: Int, heads: [Float], baseline: Float) {
        self.value = value
        self.count = count
        self.heads = heads
        self.baseline = baseline
    }
}

public struct HeadAccuracyTables: Sendable, Equatable {
    public let layers: Int
    public let heads: Int
    public let overall: AccuracyGroup
    /// One group per known steps value, ascending; samples with unknown steps (-1) are left out.
    public let bySteps: [AccuracyGroup]
    public let byDistractors: [AccuracyGroup]

    public init(layers: Int, heads: Int, overall: AccuracyGroup, bySteps: [AccuracyGroup], byDistractors: [AccuracyGroup]) {
        self.layers = layers
        self.heads = heads
        self.overall = overall
        self.bySteps = bySteps
        self.byDistractors = byDistractors
    }

    /// Heads ranked by overall accuracy, best first; ties keep layer-then-head order.
    public func ranked() -> [(layer: Int, head: Int, accuracy: Float)] {
        (0..<(layers * heads))
            .map { (layer: $0 / heads, head: $0 % heads, accuracy: overall.heads[$0]) }
            .sorted { $0.accuracy > $1.accuracy || ($0.accuracy == $1.accuracy && ($0.layer, $0.head) < ($1.layer, $1.head)) }
    }
}

/// The scores of a run, as the head tables need them.
public struct ScoredSamples: Sendable {
    public let options: Int
    public let layers: Int
    public let heads: Int
    /// `[N, O, L, H]` row-major.
    public let qk: [Float]
    /// `[N, O]` row-major.
    public let modelLogits: [Float]
    /// Index into the options; -1 where the label is absent.
    public let labels: [Int]
    /// -1 where unknown.
    public let steps: [Int]
    public let distractors: [Int]
    /// Rows not yet computed are left out.
    public let complete: [Bool]
    /// The source's own group of each row ("" where none).
    public let groups: [String]

    public init(options: Int, layers: Int, heads: Int, qk: [Float], modelLogits: [Float],
                labels: [Int], steps: [Int], distractors: [Int], complete: [Bool], groups: [String]? = nil) {
        let n = labels.count
        precondition(qk.count == n * options * layers * heads && modelLogits.count == n * options)
        precondition(steps.count == n && distractors.count == n && complete.count == n)
        self.options = options
        self.layers = layers
        self.heads = heads
        self.qk = qk
        self.modelLogits = modelLogits
        self.labels = labels
        self.steps = steps
        self.distractors = distractors
        self.complete = complete
        self.groups = groups ?? Array(repeating: "", count: n)
        precondition(self.groups.count == n)
    }

    public var count: Int { labels.count }

    /// The option head (l, h) picks for sample `n` (first option wins a tie).
    public func headChoice(sample n: Int, layer l: Int, head h: Int) -> Int {
        let stride = layers * heads
        let base = n * options * stride + l * heads + h
        var best = 0
        for o in 1..<options where qk[base + o * stride] > qk[base + best * stride] { best = o }
        return best
    }

    /// The model's own answer for sample `n`.
    public func modelChoice(sample n: Int) -> Int {
        argmax(modelLogits[(n * options)..<((n + 1) * options)])
    }

    /// Samples that count towards accuracy: complete and labelled.
    public var scoredIndices: [Int] {
        (0..<count).filter { complete[$0] && labels[$0] >= 0 }
    }
}

public func headAccuracyTables(_ samples: ScoredSamples) -> HeadAccuracyTables {
    let scored = samples.scoredIndices
    func group(_ value: Int?, _ members: [Int]) -> AccuracyGroup {
        let stride = samples.layers * samples.heads
        guard !members.isEmpty else {
            return AccuracyGroup(value: value, count: 0, heads: Array(repeating: .nan, count: stride), baseline: .nan)
        }
        var correct = [Int](repeating: 0, count: stride)
        var baselineCorrect = 0
        for n in members {
            let label = samples.labels[n]
            if samples.modelChoice(sample: n) == label { baselineCorrect += 1 }
            for l in 0..<samples.layers {
                for h in 0..<samples.heads where samples.headChoice(sample: n, layer: l, head: h) == label {
                    correct[l * samples.heads + h] += 1
                }
            }
        }
        let total = Float(members.count)
        return AccuracyGroup(value: value, count: members.count,
                             heads: correct.map { Float($0) / total }, baseline: Float(baselineCorrect) / total)
    }
    func groups(by key: [Int]) -> [AccuracyGroup] {
        let values = Set(scored.map { key[$0] }.filter { $0 >= 0 }).sorted()
        return values.map { v in group(v, scored.filter { key[$0] == v }) }
    }
    return HeadAccuracyTables(layers: samples.layers, heads: samples.heads,
                              overall: group(nil, scored),
                              bySteps: groups(by: samples.steps),
                              byDistractors: groups(by: samples.distractors))
}
