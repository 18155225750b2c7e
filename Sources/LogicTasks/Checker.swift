/// How the answer to a problem follows from its sentences.
public enum ReasoningSemantics: String, Sendable, CaseIterable {
    /// Classical: the query is True when it is proved, False when its negation is proved; a
    /// problem where neither (or both) is proved is an error.
    case openWorld = "open-world"
    /// Negation as failure: what cannot be derived is false; rules must be stratified.
    case closedWorld = "closed-world"
}

/// What the checker proved.
public struct CheckResult: Sendable, Equatable {
    public let answer: Bool
    /// Hops of modus ponens from the entity's facts to the queried property. Where the closed
    /// world makes the property false, the hops its chain would need if negated conditions were
    /// ignored (the chain that has to be followed to see that it is cut), or 0 where no chain
    /// leads to it.
    public let steps: Int
    /// Sentences in the context.
    public let sentences: Int
}

public struct CheckError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
}

/// An independent checker: it reads the problem's text (never the generator's state), parses each
/// sentence and proves the answer by forward chaining.
///
/// Grammar (a sentence per ".", words separated by spaces):
///     Max is [not] [a|an] X.                         a fact
///     Every|Each X is [not] [a|an] Y.                a rule about all X
///     Xs are [not] Y.                                the same, plural (ProntoQA writes both)
///     If something is [not] A and [not] B ... then it is [not] C.
///     question: [True or false: | Is the following statement true or false?] Max is [not] X.
public enum LogicChecker {
    public static func check(context: String, question: String, semantics: ReasoningSemantics) throws(CheckError) -> CheckResult {
        let sentences = LogicTasks.sentences(of: context)
        let statement = try queryStatement(question)
        let parser = SentenceParser(sentences: sentences + [statement])
        var facts: [Literal] = []
        var rules: [Rule] = []
        for sentence in sentences {
            switch try parser.parse(sentence) {
            case .fact(let literal): facts.append(literal)
            case .rule(let rule): rules.append(rule)
            }
        }
        guard case .fact(let query) = try parser.parse(statement) else {
            throw CheckError(description: "the question is not a statement about one entity: \(question)")
        }
        let prover = Prover(facts: facts, rules: rules)
        switch semantics {
        case .openWorld: return try prover.openWorld(query, sentences: sentences.count)
        case .closedWorld: return try prover.closedWorld(query, sentences: sentences.count)
        }
    }

    private static func queryStatement(_ question: String) throws(CheckError) -> String {
        for prefix in ["True or false: ", "Is the following statement true or false? "] where question.hasPrefix(prefix) {
            return String(question.dropFirst(prefix.count))
        }
        throw CheckError(description: "the question does not ask \"True or false\": \(question)")
    }
}

/// The sentences of a text: runs of words up to a word that ends in "." (a trailing run without
/// one is returned too, and fails to parse).
func sentences(of text: String) -> [String] {
    var sentences: [String] = []
    var current: [Substring] = []
    for word in text.split(whereSeparator: \.isWhitespace) {
        current.append(word)
        if word.hasSuffix(".") {
            sentences.append(current.joined(separator: " "))
            current = []
        }
    }
    if !current.isEmpty { sentences.append(current.joined(separator: " ")) }
    return sentences
}

/// "Max is not bright" is Literal(entity: "Max", predicate: "bright", negated: true). Rules use a
/// variable, written here as entity "".
struct Literal: Hashable {
    var entity: String
    var predicate: String
    var negated: Bool

    func about(_ entity: String) -> Literal { Literal(entity: entity, predicate: predicate, negated: negated) }
    var atom: Literal { Literal(entity: entity, predicate: predicate, negated: false) }
    var text: String { "\(entity) is \(negated ? "not " : "")\(predicate)" }
}

struct Rule {
    var premises: [Literal]
    var conclusion: Literal
}

enum Statement {
    case fact(Literal)
    case rule(Rule)
}

/// Parses sentences into facts and rules. Concept nouns are recognised across the whole problem
/// first (after "a"/"an", after "Every"/"Each", as plural subjects), so that "Wumpuses are
/// tumpuses." and "Every wumpus is a tumpus." become the same rule.
struct SentenceParser {
    private let concepts: Set<String>

    init(sentences: [String]) {
        var concepts = Set<String>()
        for words in sentences.map(SentenceParser.words) {
            for (index, word) in words.enumerated() where index > 0 && (words[index - 1] == "a" || words[index - 1] == "an") {
                concepts.insert(word)
            }
            if words.count > 1, words[0] == "Every" || words[0] == "Each" { concepts.insert(words[1]) }
            if words.count > 1, words[1] == "are" { concepts.insert(SentenceParser.singular(words[0].lowercased())) }
        }
        self.concepts = concepts
    }

    func parse(_ sentence: String) throws(CheckError) -> Statement {
        let words = SentenceParser.words(sentence)
        let unknown = CheckError(description: "cannot parse the sentence \"\(sentence)\"")
        guard sentence.hasSuffix("."), words.count >= 3 else { throw unknown }

        if words[0] == "If" {
            return .rule(try conditional(words, unknown))
        }
        if words[0] == "Every" || words[0] == "Each" {
            guard words[2] == "is", let predicate = predicate(words[3...], plural: false) else { throw unknown }
            return .rule(Rule(premises: [Literal(entity: "", predicate: words[1], negated: false)], conclusion: predicate.about("")))
        }
        if words[1] == "are" {
            guard let predicate = predicate(words[2...], plural: true) else { throw unknown }
            let subject = SentenceParser.singular(words[0].lowercased())
            return .rule(Rule(premises: [Literal(entity: "", predicate: subject, negated: false)], conclusion: predicate.about("")))
        }
        if words[1] == "is", words[0].first?.isUppercase == true, let predicate = predicate(words[2...], plural: false) {
            return .fact(predicate.about(words[0]))
        }
        throw unknown
    }

    /// "If something is A and not B then it is C."
    private func conditional(_ words: [String], _ unknown: CheckError) throws(CheckError) -> Rule {
        guard words.count >= 8, words[1] == "something", words[2] == "is",
            let then = words.firstIndex(of: "then"), then + 3 < words.count,
            words[then + 1] == "it", words[then + 2] == "is",
            let conclusion = predicate(words[(then + 3)...], plural: false)
        else { throw unknown }
        var premises: [Literal] = []
        for condition in words[3..<then].split(separator: "and") {
            guard let literal = predicate(condition, plural: false) else { throw unknown }
            premises.append(literal)
        }
        if premises.isEmpty { throw unknown }
        return Rule(premises: premises, conclusion: conclusion.about(""))
    }

    /// "[not] [a|an] X" (or "[not] Xs" in a plural sentence) as a literal without an entity.
    private func predicate(_ words: ArraySlice<String>, plural: Bool) -> Literal? {
        var rest = words
        let negated = rest.first == "not"
        if negated { rest = rest.dropFirst() }
        if !plural, rest.first == "a" || rest.first == "an" { rest = rest.dropFirst() }
        guard rest.count == 1, let word = rest.first, !word.isEmpty else { return nil }
        let name = plural && concepts.contains(SentenceParser.singular(word)) ? SentenceParser.singular(word) : word
        return Literal(entity: "", predicate: name, negated: negated)
    }

    private static func words(_ sentence: String) -> [String] {
        let body = sentence.hasSuffix(".") ? sentence.dropLast() : Substring(sentence)
        return body.split(separator: " ").map(String.init)
    }

    /// English plural to singular for the regular nouns of these problems ("wumpuses", "daxes", "wugs").
    static func singular(_ word: String) -> String {
        for ending in ["ses", "xes", "zes", "ches", "shes"] where word.hasSuffix(ending) {
            return String(word.dropLast(2))
        }
        return word.hasSuffix("s") ? String(word.dropLast()) : word
    }
}

/// Forward chaining over ground facts and one-variable rules.
struct Prover {
    let facts: [Literal]
    let rules: [Rule]

    /// The entities, in order of first mention.
    private var entities: [String] {
        var seen = Set<String>()
        return facts.map(\.entity).filter { seen.insert($0).inserted }
    }

    func openWorld(_ query: Literal, sentences: Int) throws(CheckError) -> CheckResult {
        let known = derive(rules: rules, negation: .classical)
        let contradictions = known.keys.filter { !$0.negated && known[Literal(entity: $0.entity, predicate: $0.predicate, negated: true)] != nil }
        if let first = contradictions.map(\.text).min() {
            throw CheckError(description: "the problem is inconsistent: \(first) and its negation both follow")
        }
        var opposite = query
        opposite.negated.toggle()
        switch (known[query], known[opposite]) {
        case (let depth?, nil): return CheckResult(answer: true, steps: depth, sentences: sentences)
        case (nil, let depth?): return CheckResult(answer: false, steps: depth, sentences: sentences)
        default: throw CheckError(description: "neither \(query.text) nor its negation follows")
        }
    }

    func closedWorld(_ query: Literal, sentences: Int) throws(CheckError) -> CheckResult {
        if let negative = facts.first(where: \.negated) ?? rules.map(\.conclusion).first(where: \.negated) {
            throw CheckError(description: "under the closed world facts and conclusions are positive, but one says \"not \(negative.predicate)\"")
        }
        let strata = try stratify()
        var known = Dictionary(facts.map { ($0, 0) }, uniquingKeysWith: min)
        for stratum in strata {
            known = derive(rules: stratum, negation: .failure, startingFrom: known)
        }
        // Not derived: cut by a negated condition (the depth of the chain without them), or
        // never concluded by any chain at all (false at once).
        let depth = known[query.atom] ?? derive(rules: rules, negation: .ignored)[query.atom] ?? 0
        return CheckResult(answer: (known[query.atom] != nil) != query.negated, steps: depth, sentences: sentences)
    }

    /// How a rule's negated premises ("not B") are read.
    private enum Negation {
        /// Matched against derived negative literals, like any other premise.
        case classical
        /// True when the atom is not known; sound once the lower strata are complete.
        case failure
        /// Left out: the chain a property would follow if nothing were cut.
        case ignored
    }

    /// Every literal that follows, with the fewest hops it takes (facts: 0; a rule: one more
    /// than its deepest premise). Rules fire until nothing new follows and no depth shrinks.
    private func derive(rules: [Rule], negation: Negation, startingFrom start: [Literal: Int]? = nil) -> [Literal: Int] {
        var known = start ?? Dictionary(facts.map { ($0, 0) }, uniquingKeysWith: min)
        while true {
            var improved: [Literal: Int] = [:]
            for entity in entities {
                for rule in rules {
                    guard let depth = firingDepth(of: rule, for: entity, known: known, negation: negation) else { continue }
                    let conclusion = rule.conclusion.about(entity)
                    if let best = improved[conclusion] ?? known[conclusion], best <= depth { continue }
                    improved[conclusion] = depth
                }
            }
            if improved.isEmpty { return known }
            known.merge(improved) { _, new in new }
        }
    }

    private func firingDepth(of rule: Rule, for entity: String, known: [Literal: Int], negation: Negation) -> Int? {
        var deepest = 0
        for premise in rule.premises.map({ $0.about(entity) }) {
            switch (premise.negated, negation) {
            case (true, .failure):
                if known[premise.atom] != nil { return nil }
            case (true, .ignored):
                continue
            default:
                guard let depth = known[premise] else { return nil }
                deepest = max(deepest, depth)
            }
        }
        return deepest + 1
    }

    /// Groups the rules so that every negated premise is complete before it is used.
    private func stratify() throws(CheckError) -> [[Rule]] {
        var level: [String: Int] = [:]
        let limit = rules.count + 1
        var changed = true
        while changed {
            changed = false
            for rule in rules {
                var needed = 0
                for premise in rule.premises {
                    needed = max(needed, (level[premise.predicate] ?? 0) + (premise.negated ? 1 : 0))
                }
                if needed > (level[rule.conclusion.predicate] ?? 0) {
                    level[rule.conclusion.predicate] = needed
                    changed = true
                    if needed > limit {
                        throw CheckError(description: "the rules are not stratified: \(rule.conclusion.predicate) depends on its own negation")
                    }
                }
            }
        }
        let top = rules.map { level[$0.conclusion.predicate] ?? 0 }.max() ?? 0
        return (0...top).map { stratum in rules.filter { (level[$0.conclusion.predicate] ?? 0) == stratum } }
    }
}
