/// Problems of the closed-world family, read as in PARARULE-Plus: what does not follow is false.
///
///     Max is red. Max is cold. Sam is loud.
///     If something is red and not loud then it is soft.
///     If something is soft then it is round.
///     If something is wild and not cold then it is thin.
///     True or false: Max is round.              (True, 2 steps)
///
/// A chain of `steps` rules leads from the entity's fact to the queried property; one hop also
/// needs "not B". In half the problems the entity is B and the chain is cut there. The two cases
/// are minimal pairs: the same sentences, except that the entity and another one swap the
/// adjectives B and C (C appears negated in a side rule that never fires), so only following the
/// chain and binding the facts to the right entity tells them apart.
///
/// `steps` counts the rules of the chain whether or not it is cut: the hops that must be
/// followed to see that the queried property does, or does not, follow.
enum ClosedWorldProblem {
    static func make(steps: Int, distractors: Int, answer: Bool, negatedQuery: Bool, random: inout SeededRandom) -> Problem {
        var words = WordPool()
        let entity = words.name(&random)
        let other = words.name(&random)
        let chain = (0...steps).map { _ in words.property(&random) }
        let blocker = words.property(&random)
        let contrast = words.property(&random)
        let sidePremise = words.property(&random)
        let sideHead = words.property(&random)
        let negatedHop = 1 + random.below(steps)
        // The queried property holds exactly when the chain is not cut.
        let cut = negatedQuery ? answer : !answer

        let rules = (1...steps).map { hop in
            hop == negatedHop
                ? "If something is \(chain[hop - 1]) and not \(blocker) then it is \(chain[hop])."
                : "If something is \(chain[hop - 1]) then it is \(chain[hop])."
        }
        let start = "\(entity) is \(chain[0])."
        let contrastFacts = cut
            ? ["\(entity) is \(blocker).", "\(other) is \(contrast)."]
            : ["\(entity) is \(contrast).", "\(other) is \(blocker)."]
        let sideRule = "If something is \(sidePremise) and not \(contrast) then it is \(sideHead)."

        var proof = [start]
        for hop in 1...steps {
            if hop == negatedHop {
                if cut {
                    proof += [contrastFacts[0], rules[hop - 1], "\(entity) is \(blocker), so this rule does not apply to \(entity)."]
                    proof.append("Nothing else makes \(entity) \(chain[steps]), so \(entity) is not \(chain[steps]).")
                    break
                }
                proof.append("Nothing says that \(entity) is \(blocker), so \(entity) is not \(blocker).")
            }
            proof += [rules[hop - 1], "\(entity) is \(chain[hop])."]
        }

        var builder = ClosedWorldDistractors(
            words: words, entity: entity, others: [other], chain: chain, blocker: blocker, contrast: contrast,
            poison: [sidePremise], harmless: [sideHead],
            stated: Set([start, sideRule] + contrastFacts + rules))
        let distractorSentences = (0..<distractors).map { index in
            // The first distractor always concludes the queried property from something else.
            builder.sentence(index == 0 ? .counterRule : random.element(of: ClosedWorldDistractors.Kind.allCases), &random)
        }
        // In proof order the two contrast facts come just before the rule they can cut.
        let base = [start] + rules[..<(negatedHop - 1)] + contrastFacts + rules[(negatedHop - 1)...] + [sideRule]
        return Problem(
            base: base, distractors: distractorSentences,
            question: "True or false: \(entity) is \(negatedQuery ? "not " : "")\(chain[steps]).",
            proof: proof)
    }
}

/// Sentences that change neither the answer nor the depth.
///
/// Adjectives play fixed roles. "Poison" adjectives never hold for the entity: they are given to
/// other entities only and are premises of every rule that concludes a chain adjective outside the
/// chain itself. "Harmless" adjectives are new conclusions that nothing positive depends on.
/// Negated conditions only ever point at older adjectives, so the rules stay stratified.
struct ClosedWorldDistractors {
    enum Kind: CaseIterable {
        /// "If something is wild then it is round." (the queried property from a poison adjective)
        case counterRule
        /// "Sam is wild." (a fact about another entity)
        case otherFact
        /// "If something is shiny then it is wild." (poison to poison or chain)
        case poisonRule
        /// "If something is soft and not dusty then it is furry." (the entity gets a new adjective)
        case entityRule
        /// "If something is not dusty then it is furry." (fires by the closed world)
        case negationRule
        /// "Max is furry." (an irrelevant fact about the entity)
        case entityFact
    }

    var words: WordPool
    let entity: String
    var others: [String]
    let chain: [String]
    let blocker: String
    let contrast: String
    var poison: [String]
    var harmless: [String]
    /// Every sentence so far, so that none is said twice (looked up, never iterated).
    var stated: Set<String>

    private var queried: String { chain[chain.count - 1] }
    private var allAdjectives: [String] { chain + [blocker, contrast] + poison + harmless }

    mutating func sentence(_ kind: Kind, _ random: inout SeededRandom) -> String {
        while true {
            let candidate = propose(kind, &random)
            if stated.insert(candidate).inserted { return candidate }
        }
    }

    /// A sentence of the kind; it may repeat an earlier one only when it reuses old words, and
    /// every kind falls back to new words half the time, so `sentence` soon finds a new one.
    private mutating func propose(_ kind: Kind, _ random: inout SeededRandom) -> String {
        switch kind {
        case .counterRule:
            let premise = random.coin() ? random.element(of: poison) : newPoison(&random)
            guard random.coin() else { return "If something is \(premise) then it is \(queried)." }
            let negated = random.element(of: ([blocker, contrast] + poison).filter { $0 != premise })
            return "If something is \(premise) and not \(negated) then it is \(queried)."
        case .otherFact:
            let other = random.coin() ? random.element(of: others) : newName(&random)
            let adjective = random.coin() ? random.element(of: allAdjectives) : newPoison(&random)
            return "\(other) is \(adjective)."
        case .poisonRule:
            let target = random.element(of: poison + chain)
            return "If something is \(newPoison(&random)) then it is \(target)."
        case .entityRule:
            let premise = random.element(of: chain)
            let negated = random.element(of: allAdjectives.filter { $0 != premise })
            let head = newHarmless(&random)
            return random.coin()
                ? "If something is \(premise) and not \(negated) then it is \(head)."
                : "If something is \(premise) then it is \(head)."
        case .negationRule:
            let negated = random.element(of: allAdjectives)
            return "If something is not \(negated) then it is \(newHarmless(&random))."
        case .entityFact:
            let adjective = random.coin() ? random.element(of: harmless) : newHarmless(&random)
            return "\(entity) is \(adjective)."
        }
    }

    private mutating func newPoison(_ random: inout SeededRandom) -> String {
        let word = words.property(&random)
        poison.append(word)
        return word
    }

    private mutating func newHarmless(_ random: inout SeededRandom) -> String {
        let word = words.property(&random)
        harmless.append(word)
        return word
    }

    private mutating func newName(_ random: inout SeededRandom) -> String {
        let name = words.name(&random)
        others.append(name)
        return name
    }
}
