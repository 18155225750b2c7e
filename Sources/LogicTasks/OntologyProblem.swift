/// Problems of the ontology family.
///
///     Max is a wug. Every wug is a dax. Every dax is not bright.
///     True or false: Max is bright.            (False, 2 steps)
///
/// The entity's fact and `steps - 1` subtype rules lead to the last concept of the chain, whose
/// property rule settles the query: `steps` hops of modus ponens.
enum OntologyProblem {
    static func make(steps: Int, distractors: Int, answer: Bool, negatedQuery: Bool, random: inout SeededRandom) -> Problem {
        var words = WordPool()
        let entity = words.name(&random)
        let chain = (0..<steps).map { _ in words.concept(&random) }
        let property = words.property(&random)
        // The query is true when the rule and the query agree on "not".
        let ruleNegated = answer ? negatedQuery : !negatedQuery
        let ruleProperty = phrase(property, negated: ruleNegated)

        var base = ["\(entity) is \(Vocabulary.withArticle(chain[0]))."]
        var proof = [base[0]]
        for (from, to) in zip(chain, chain.dropFirst()) {
            let rule = "Every \(from) is \(Vocabulary.withArticle(to))."
            base.append(rule)
            proof += [rule, "\(entity) is \(Vocabulary.withArticle(to))."]
        }
        let propertyRule = "Every \(chain[steps - 1]) is \(ruleProperty)."
        base.append(propertyRule)
        proof += [propertyRule, "\(entity) is \(ruleProperty)."]

        var builder = OntologyDistractors(words: words, chain: chain, property: property, ruleNegated: ruleNegated)
        let distractorSentences = (0..<distractors).map { index in
            // The first distractor always mentions the queried property with the other polarity,
            // so that matching words of the query against the context cannot find the answer.
            builder.sentence(index == 0 ? .counterRule : random.element(of: OntologyDistractors.Kind.allCases), &random)
        }
        return Problem(
            base: base, distractors: distractorSentences,
            question: "True or false: \(entity) is \(phrase(property, negated: negatedQuery)).",
            proof: proof)
    }

    static func phrase(_ property: String, negated: Bool) -> String {
        negated ? "not \(property)" : property
    }
}

/// Sentences that change nothing about the answer or its depth.
///
/// The entity's concepts are the chain and the "branch" concepts hung below it; "off" concepts
/// are never reachable from the entity (no rule leads from the chain to them). Consistency holds
/// by construction: no concept ever inherits two rules about the same property, because a rule
/// about a property goes only where no ancestor or descendant already has one.
struct OntologyDistractors {
    enum Kind: CaseIterable {
        /// "Every zorb is not bright." (the queried property, other polarity, off the chain)
        case counterRule
        /// "Every zorb is bright." (the queried property, same polarity, off the chain)
        case sameRule
        /// "Sam is a zorb." (another entity, on or off the chain)
        case otherFact
        /// "Every quorp is a zorb." (off the chain)
        case offSubtype
        /// "Every dax is cold." (the entity gets another property)
        case chainProperty
        /// "Every dax is a snib." (the entity gets another concept)
        case branchSubtype
        /// "Every zorb is not cold." (off the chain)
        case offProperty
    }

    var words: WordPool
    let chain: [String]
    let property: String
    let ruleNegated: Bool

    /// Off concepts in creation order, with their parent (at most one) and the properties their
    /// own rules mention. The dictionaries are only looked up, never iterated.
    private var offConcepts: [String] = []
    private var parent: [String: String] = [:]
    private var ruleProperties: [String: Set<String>] = [:]
    /// Properties of rules on the chain: the entity has each of them, so each only once.
    private var chainProperties: Set<String>
    /// Other properties already used, in order of first use (reused to make overlaps).
    private var otherProperties: [String] = []

    init(words: WordPool, chain: [String], property: String, ruleNegated: Bool) {
        self.words = words
        self.chain = chain
        self.property = property
        self.ruleNegated = ruleNegated
        chainProperties = [property]
    }

    mutating func sentence(_ kind: Kind, _ random: inout SeededRandom) -> String {
        switch kind {
        case .counterRule, .sameRule:
            let negated = kind == .counterRule ? !ruleNegated : ruleNegated
            let concept = offConcept(acceptingRuleAbout: property, &random)
            return "Every \(concept) is \(OntologyProblem.phrase(property, negated: negated))."
        case .otherFact:
            let other = words.name(&random)
            return "\(other) is \(Vocabulary.withArticle(random.element(of: chain + offConcepts)))."
        case .offSubtype:
            let target = !offConcepts.isEmpty && random.coin() ? random.element(of: offConcepts) : newOffConcept(&random)
            let child = newOffConcept(&random)
            parent[child] = target
            return "Every \(child) is \(Vocabulary.withArticle(target))."
        case .chainProperty:
            let candidates = otherProperties.filter { !chainProperties.contains($0) }
            let other = !candidates.isEmpty && random.coin() ? random.element(of: candidates) : newOtherProperty(&random)
            chainProperties.insert(other)
            return "Every \(random.element(of: chain)) is \(OntologyProblem.phrase(other, negated: random.coin()))."
        case .branchSubtype:
            let branch = words.concept(&random)
            return "Every \(random.element(of: chain)) is \(Vocabulary.withArticle(branch))."
        case .offProperty:
            let other = !otherProperties.isEmpty && random.coin() ? random.element(of: otherProperties) : newOtherProperty(&random)
            let concept = offConcept(acceptingRuleAbout: other, &random)
            return "Every \(concept) is \(OntologyProblem.phrase(other, negated: random.coin()))."
        }
    }

    /// An off concept that may take a rule about `property` (an existing one or a new one), and
    /// records that it now has one.
    private mutating func offConcept(acceptingRuleAbout property: String, _ random: inout SeededRandom) -> String {
        let candidates = offConcepts.filter { canTakeRule(about: property, $0) }
        let concept = !candidates.isEmpty && random.coin() ? random.element(of: candidates) : newOffConcept(&random)
        ruleProperties[concept, default: []].insert(property)
        return concept
    }

    private mutating func newOffConcept(_ random: inout SeededRandom) -> String {
        let concept = words.concept(&random)
        offConcepts.append(concept)
        return concept
    }

    private mutating func newOtherProperty(_ random: inout SeededRandom) -> String {
        let other = words.property(&random)
        otherProperties.append(other)
        return other
    }

    private func ancestors(of concept: String) -> [String] {
        var found: [String] = []
        var current = concept
        while let up = parent[current] {
            found.append(up)
            current = up
        }
        return found
    }

    /// No concept above or below `concept` (nor itself) has a rule about `property`, so adding one
    /// cannot make anything both P and not P.
    private func canTakeRule(about property: String, _ concept: String) -> Bool {
        let below = offConcepts.filter { ancestors(of: $0).contains(concept) }
        let related = [concept] + ancestors(of: concept) + below
        return !related.contains { ruleProperties[$0]?.contains(property) ?? false }
    }
}
