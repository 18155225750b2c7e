/// The kinds of generated problems.
public enum TaskFamily: String, Sendable, CaseIterable {
    /// ProntoQA-like: a chain of concepts ("Every wug is a dax.") ends in a property rule; the query
    /// or its negation follows from the entity's fact in exactly `steps` hops (open world).
    case ontology
    /// PARARULE-Plus-like: rules "If something is A and not B then it is C." read under the closed
    /// world (what does not follow is false); the answer turns on whether a negated condition holds.
    case closedWorld = "closed-world"

    /// How the family's answers are to be proved.
    public var semantics: ReasoningSemantics {
        switch self {
        case .ontology: .openWorld
        case .closedWorld: .closedWorld
        }
    }

    var seedCode: UInt64 {
        switch self {
        case .ontology: 1
        case .closedWorld: 2
        }
    }
}

/// What to generate: a grid of (steps, distractors) cells with the same number of samples each.
public struct GeneratorSettings: Sendable, Equatable {
    public var family: TaskFamily
    public var steps: ClosedRange<Int>
    public var distractors: ClosedRange<Int>
    public var perCell: Int
    public var seed: UInt64
    /// Keep the problem's own sentences in the order the proof uses them (distractors still go
    /// anywhere); otherwise every sentence is shuffled.
    public var proofOrder: Bool

    public init(
        family: TaskFamily = .ontology, steps: ClosedRange<Int>, distractors: ClosedRange<Int>, perCell: Int,
        seed: UInt64, proofOrder: Bool = false
    ) {
        self.family = family
        self.steps = steps
        self.distractors = distractors
        self.perCell = perCell
        self.seed = seed
        self.proofOrder = proofOrder
    }
}

/// Generates logic problems with a known depth, a known number of distractors and labels
/// balanced exactly in every cell. The same settings give the same samples, on any machine.
public enum LogicGenerator {
    /// Bumped whenever the samples made from a given seed change.
    public static let version = 1
    public static let stepsLimit = 1...10
    public static let distractorsLimit = 0...12

    public static func samples(_ settings: GeneratorSettings) throws(DatasetError) -> [LogicSample] {
        try validate(settings)
        var samples: [LogicSample] = []
        for steps in settings.steps {
            for distractors in settings.distractors {
                samples += cell(settings, steps: steps, distractors: distractors)
            }
        }
        return samples
    }

    private static func validate(_ settings: GeneratorSettings) throws(DatasetError) {
        let place = "generator settings"
        guard stepsLimit.contains(settings.steps.lowerBound), stepsLimit.contains(settings.steps.upperBound) else {
            throw DatasetError(place, "steps \(settings.steps) outside \(stepsLimit)")
        }
        guard distractorsLimit.contains(settings.distractors.lowerBound), distractorsLimit.contains(settings.distractors.upperBound) else {
            throw DatasetError(place, "distractors \(settings.distractors) outside \(distractorsLimit)")
        }
        guard settings.perCell > 0, settings.perCell.isMultiple(of: 2) else {
            throw DatasetError(place, "per-cell \(settings.perCell) must be a positive even number, so that labels balance exactly")
        }
    }

    /// One (steps, distractors) cell: half True, half False, and within each label the query is
    /// negated in half the samples (as near as the count allows), so neither the answer nor the
    /// word "not" in the query gives the other away.
    private static func cell(_ settings: GeneratorSettings, steps: Int, distractors: Int) -> [LogicSample] {
        let cellKey = [settings.seed, settings.family.seedCode, UInt64(steps), UInt64(distractors)]
        var variants = (0..<settings.perCell).map { (answer: $0.isMultiple(of: 2), negatedQuery: ($0 / 2) % 2 == 1) }
        var cellRandom = SeededRandom(key: cellKey + [0])
        cellRandom.shuffle(&variants)

        return variants.enumerated().map { index, variant in
            var random = SeededRandom(key: cellKey + [1, UInt64(index)])
            let problem: Problem
            switch settings.family {
            case .ontology:
                problem = OntologyProblem.make(
                    steps: steps, distractors: distractors, answer: variant.answer, negatedQuery: variant.negatedQuery, random: &random)
            case .closedWorld:
                problem = ClosedWorldProblem.make(
                    steps: steps, distractors: distractors, answer: variant.answer, negatedQuery: variant.negatedQuery, random: &random)
            }
            let sentences = problem.ordered(proofOrder: settings.proofOrder, random: &random)
            var metadata = JSONObject()
            metadata.set("family", .string(settings.family.rawValue))
            metadata.set("seed", .number(String(settings.seed)))
            metadata.set("generator", .string("qkprobe-logic \(version)"))
            metadata.set("order", .string(settings.proofOrder ? "proof" : "shuffled"))
            metadata.set("proof", .array(problem.proof.map(JSONValue.string)))
            return LogicSample(
                id: "\(settings.family.rawValue)-\(settings.seed)-s\(steps)-d\(distractors)-\(index)",
                context: sentences.joined(separator: " "),
                question: problem.question,
                options: AnswerOptions.trueFalse,
                label: variant.answer ? 0 : 1,
                steps: steps,
                distractors: distractors,
                metadata: metadata)
        }
    }
}

/// One generated problem before its sentences are ordered.
struct Problem {
    /// The sentences the problem needs, in the order the proof uses them.
    var base: [String]
    var distractors: [String]
    var question: String
    /// The proof, premise and conclusion in turn, ending in the answer.
    var proof: [String]

    func ordered(proofOrder: Bool, random: inout SeededRandom) -> [String] {
        var sentences = base
        if proofOrder {
            for distractor in distractors {
                sentences.insert(distractor, at: random.below(sentences.count + 1))
            }
        } else {
            sentences += distractors
            random.shuffle(&sentences)
        }
        return sentences
    }
}
