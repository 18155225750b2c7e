import Foundation
import LogicTasks
import ModelFormats
import Probe
import Reports

/// What a run is expected to show, as `qkprobe verify --expected FILE` reads it. The file is one
/// JSON object of one of two kinds:
///
/// 1. A whole head accuracy table, as `qkprobe heads --format json` writes it
///    (`HeadTableDocument`, recognised by its `accuracy` key): every head, the baseline and every
///    by-steps / by-distractors group are compared.
/// 2. Named expectations, every key optional but at least one of the last three present:
///
///    ```json
///    {
///      "model_sha256": "…",
///      "baseline": 0.62,
///      "heads": {"L14H3": 0.81, "L3H0": 0.55},
///      "claims": [
///        {"best_head_beats_baseline_by": 0.10},
///        {"best_head_at_least": 0.8, "steps": 3},
///        {"head": "L14H3", "beats_baseline_by": 0.05},
///        {"head": "L14H3", "at_least": 0.7},
///        {"head": "L2H1", "at_most": 0.55, "distractors": 4},
///        {"head": "L14H3", "in_top": 5},
///        {"head": "L14H3", "beats_model": {"p_below": 0.05}},
///        {"head": "L14H3", "beats_chance": {"p_below": 0.05}},
///        {"best_head_beats_chance": {"p_below": 0.05}}
///      ]
///    }
///    ```
///
///    `baseline` and `heads` give accuracies to match within the tolerance. A claim has exactly
///    one comparison: `best_head_beats_baseline_by`, `best_head_at_least` (about the run's best
///    head, no `head` key), or, with a `head`, `at_least`, `at_most`, `beats_baseline_by`,
///    `in_top` (the head ranks among the n best, ties included). Significance claims take
///    `{"p_below": P}`: `beats_model` (more accurate than the model, McNemar's exact p below P),
///    `beats_chance` (max-T adjusted p of the label-permutation test below P, so the selection
///    of the head among all L × H is accounted for), `best_head_beats_model`,
///    `best_head_beats_chance` (the family-wise p). `steps` or `distractors` restricts a claim to
///    that group of samples.
///
/// Keys are snake_case and unknown keys are errors, so a typo cannot make a check pass silently.
/// Accuracies are fractions in [0, 1]. When `model_sha256` is present the run must come from
/// that model.
public struct Expectation: Sendable {
    /// A statement about one head, or the best one, optionally on one group of samples.
    public struct Claim: Sendable, Equatable {
        public enum Subject: Sendable, Equatable {
            case bestHead
            case head(String)
        }

        public enum Comparison: Sendable, Equatable {
            case atLeast(Double)
            case atMost(Double)
            case beatsBaselineBy(Double)
            case inTop(Int)
            /// More accurate than the model, with McNemar's exact p below the bound.
            case beatsModel(pBelow: Double)
            /// The max-T adjusted p (for the best head: the family-wise p) below the bound.
            case beatsChance(pBelow: Double)
        }

        public enum Group: Sendable, Equatable {
            case steps(Int)
            case distractors(Int)
        }

        public var subject: Subject
        public var comparison: Comparison
        public var group: Group?

        public init(_ subject: Subject, _ comparison: Comparison, on group: Group? = nil) {
            self.subject = subject
            self.comparison = comparison
            self.group = group
        }
    }

    /// Where the expectations came from, for messages.
    public var source: String
    public var modelSHA256: String?
    /// A whole table to match (the first kind of file).
    public var table: HeadTableDocument?
    public var baseline: Double?
    /// Head names ("L14H3") and their accuracies, in file order.
    public var heads: [(name: String, accuracy: Double)]
    public var claims: [Claim]

    public init(source: String, modelSHA256: String? = nil, table: HeadTableDocument? = nil, baseline: Double? = nil,
                heads: [(name: String, accuracy: Double)] = [], claims: [Claim] = []) {
        self.source = source
        self.modelSHA256 = modelSHA256
        self.table = table
        self.baseline = baseline
        self.heads = heads
        self.claims = claims
    }

    /// Reads an expectations file; `name` (for messages) defaults to its path.
    public init(contentsOf url: URL, name: String? = nil) throws {
        let source = name ?? url.path
        let data: Data
        do {
            data = try RegularFile.contents(of: url, limit: 1 << 28)
        } catch let error as ModelFormatError {
            throw SelectionError(source, error.problem)
        }
        try self.init(json: data, source: source)
    }

    /// Parses an expectations file's bytes; errors name `source`.
    public init(json data: Data, source: String) throws {
        func fail(_ problem: String) -> SelectionError { SelectionError(source, problem) }
        let value: JSONValue
        do {
            value = try JSONValue.parse(data)
        } catch {
            let (line, column) = lineAndColumn(of: error.offset, in: data)
            throw fail("malformed JSON at line \(line), column \(column): \(error.reason)")
        }
        guard case .object(let object) = value else { throw fail("expected a JSON object, found \(value.kindName)") }
        if object["accuracy"] != nil {
            try self.init(table: object, data: data, source: source)
            return
        }
        try checkKeys(object, allowed: ["model_sha256", "baseline", "heads", "claims"], at: "", fail)
        self.init(source: source)
        modelSHA256 = try object["model_sha256"].map { try string($0, at: "model_sha256", fail) }
        baseline = try object["baseline"].map { try accuracy($0, at: "baseline", fail) }
        if let heads = object["heads"] {
            guard case .object(let named) = heads else {
                throw fail("heads: expected an object of head names and accuracies, found \(heads.kindName)")
            }
            self.heads = try named.members.map { name, value in
                guard HeadID(name: name) != nil else {
                    throw fail("heads: \"\(name)\" is not a head name (write L<layer>H<head>, e.g. L14H3)")
                }
                return (name, try accuracy(value, at: "heads.\(name)", fail))
            }
        }
        if let claims = object["claims"] {
            guard case .array(let list) = claims else { throw fail("claims: expected an array, found \(claims.kindName)") }
            self.claims = try list.enumerated().map { try Claim(json: $1, at: "claims[\($0)]", fail) }
        }
        guard baseline != nil || !heads.isEmpty || !claims.isEmpty else {
            throw fail("expects nothing: give a head table (qkprobe heads --format json), \"baseline\", \"heads\" or \"claims\"")
        }
    }

    /// A `qkprobe heads --format json` document.
    private init(table object: JSONObject, data: Data, source: String) throws {
        func fail(_ problem: String) -> SelectionError { SelectionError(source, problem) }
        try checkKeys(object, allowed: Self.tableKeys, at: "", fail)
        for key in ["by_steps", "by_distractors"] {
            guard case .array(let groups)? = object[key] else { continue }
            for (index, group) in groups.enumerated() {
                if case .object(let members) = group {
                    try checkKeys(members, allowed: ["value", "count", "baseline", "baseline_ci95", "majority_class_accuracy", "accuracy"],
                                  at: "\(key)[\(index)].", fail)
                }
            }
        }
        let document: HeadTableDocument
        do {
            document = try HeadTableDocument.decode(from: data)
        } catch let error as DecodingError {
            throw fail("not a head table as qkprobe heads --format json writes it: \(describe(error))")
        }
        let (layers, heads) = (document.layers, document.heads)
        let matrices = [("accuracy", document.accuracy)]
            + document.bySteps.enumerated().map { ("by_steps[\($0)].accuracy", $1.accuracy) }
            + document.byDistractors.enumerated().map { ("by_distractors[\($0)].accuracy", $1.accuracy) }
        for (key, matrix) in matrices {
            guard matrix.count == layers, matrix.allSatisfy({ $0.count == heads }) else {
                throw fail("\(key) is not \(layers) layers x \(heads) heads, as the table's layers and heads say")
            }
            if let cell = matrix.joined().compactMap({ $0 }).first(where: { !(0...1).contains($0) }) {
                throw fail("\(key): an accuracy is a fraction between 0 and 1, not \(cell)")
            }
        }
        self.init(source: source, modelSHA256: document.modelSHA256, table: document)
    }

    /// The keys of `HeadTableDocument`; `verify` refuses others.
    static let tableKeys = ["model_name", "model_sha256", "dataset_name", "options", "qk_rope", "qk_scale",
                            "anchor_rule", "answer_cue", "n_samples", "n_labelled", "n_layers", "n_heads", "n", "majority_class",
                            "majority_class_accuracy", "best_head", "best_head_familywise_p", "permutations",
                            "verdict", "model", "heads", "baseline", "accuracy", "top", "by_steps", "by_distractors"]
}

extension Expectation.Claim {
    init(json value: JSONValue, at path: String, _ fail: (String) -> SelectionError) throws {
        func failHere(_ problem: String) -> SelectionError { fail("\(path): \(problem)") }
        guard case .object(let object) = value else { throw failHere("expected an object, found \(value.kindName)") }
        let bestHeadKeys = ["best_head_beats_baseline_by", "best_head_at_least", "best_head_beats_model", "best_head_beats_chance"]
        let headKeys = ["at_least", "at_most", "beats_baseline_by", "in_top", "beats_model", "beats_chance"]
        try checkKeys(object, allowed: ["head", "steps", "distractors"] + bestHeadKeys + headKeys, at: "\(path).", fail)
        let comparisons = object.keys.filter { bestHeadKeys.contains($0) || headKeys.contains($0) }
        guard comparisons.count == 1, let key = comparisons.first, let raw = object[key] else {
            let problem = comparisons.isEmpty
                ? "states no comparison (one of \((bestHeadKeys + headKeys).joined(separator: ", ")))"
                : "states \(comparisons.count) comparisons (\(comparisons.joined(separator: ", "))); give one per claim"
            throw failHere(problem)
        }
        let significance = key.hasSuffix("beats_model") || key.hasSuffix("beats_chance")
        let number = significance ? try pBound(raw, at: "\(path).\(key)", fail) : try bound(raw, at: "\(path).\(key)", fail)
        if bestHeadKeys.contains(key) {
            guard object["head"] == nil else {
                throw failHere("\(key) is about the best head: drop \"head\" or use \(key.dropFirst("best_head_".count))")
            }
            subject = .bestHead
            switch key {
            case "best_head_at_least": comparison = .atLeast(number)
            case "best_head_beats_model": comparison = .beatsModel(pBelow: number)
            case "best_head_beats_chance": comparison = .beatsChance(pBelow: number)
            default: comparison = .beatsBaselineBy(number)
            }
        } else {
            guard let head = object["head"] else { throw failHere("\(key) needs a \"head\" (e.g. \"L14H3\")") }
            let name = try string(head, at: "\(path).head", fail)
            guard HeadID(name: name) != nil else {
                throw failHere("\"\(name)\" is not a head name (write L<layer>H<head>, e.g. L14H3)")
            }
            subject = .head(name)
            switch key {
            case "at_least": comparison = .atLeast(number)
            case "at_most": comparison = .atMost(number)
            case "beats_baseline_by": comparison = .beatsBaselineBy(number)
            case "beats_model": comparison = .beatsModel(pBelow: number)
            case "beats_chance": comparison = .beatsChance(pBelow: number)
            default:
                guard number >= 1, number <= 1e9, number.rounded() == number else {
                    throw failHere("in_top must be a whole number of heads, at least 1, not \(number)")
                }
                comparison = .inTop(Int(number))
            }
        }
        switch (object["steps"], object["distractors"]) {
        case (nil, nil): group = nil
        case (let steps?, nil): group = .steps(try groupValue(steps, at: "\(path).steps", fail))
        case (nil, let distractors?): group = .distractors(try groupValue(distractors, at: "\(path).distractors", fail))
        default: throw failHere("give steps or distractors, not both")
        }
        if case .beatsBaselineBy(let margin) = comparison, !(-1...1).contains(margin) {
            throw failHere("\(key) must lie between -1 and 1, not \(margin)")
        }
        if case .atLeast(let x) = comparison, !(0...1).contains(x) { throw failHere("\(key) must lie between 0 and 1, not \(x)") }
        if case .atMost(let x) = comparison, !(0...1).contains(x) { throw failHere("\(key) must lie between 0 and 1, not \(x)") }
    }
}

private func checkKeys(_ object: JSONObject, allowed: [String], at path: String, _ fail: (String) -> SelectionError) throws {
    for key in object.keys where !allowed.contains(key) {
        throw fail("unknown key \"\(path)\(key)\" (expected one of: \(allowed.joined(separator: ", ")))")
    }
}

private func string(_ value: JSONValue, at path: String, _ fail: (String) -> SelectionError) throws -> String {
    guard let text = value.stringValue else { throw fail("\(path): expected a string, found \(value.kindName)") }
    return text
}

/// Any finite number.
private func bound(_ value: JSONValue, at path: String, _ fail: (String) -> SelectionError) throws -> Double {
    guard case .number(let text) = value, let number = Double(text), number.isFinite else {
        throw fail("\(path): expected a number, found \(value.kindName)")
    }
    return number
}

/// `{"p_below": P}` with P in (0, 1].
private func pBound(_ value: JSONValue, at path: String, _ fail: (String) -> SelectionError) throws -> Double {
    guard case .object(let object) = value else {
        throw fail("\(path): expected {\"p_below\": P}, found \(value.kindName)")
    }
    try checkKeys(object, allowed: ["p_below"], at: "\(path).", fail)
    guard let raw = object["p_below"] else { throw fail("\(path): expected {\"p_below\": P}") }
    let p = try bound(raw, at: "\(path).p_below", fail)
    guard p > 0, p <= 1 else { throw fail("\(path).p_below must lie in (0, 1], not \(p)") }
    return p
}

/// A fraction in [0, 1].
private func accuracy(_ value: JSONValue, at path: String, _ fail: (String) -> SelectionError) throws -> Double {
    let number = try bound(value, at: path, fail)
    guard (0...1).contains(number) else { throw fail("\(path): an accuracy is a fraction between 0 and 1, not \(number)") }
    return number
}

private func groupValue(_ value: JSONValue, at path: String, _ fail: (String) -> SelectionError) throws -> Int {
    guard let number = value.intValue, number >= 0 else {
        throw fail("\(path): expected a whole number of at least 0")
    }
    return number
}

private func lineAndColumn(of offset: Int, in data: Data) -> (line: Int, column: Int) {
    let before = data.prefix(offset)
    let line = before.filter { $0 == UInt8(ascii: "\n") }.count + 1
    let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? data.startIndex
    return (line, offset - (lineStart - data.startIndex) + 1)
}

/// A decoding error as one short phrase: where, and what was wrong.
private func describe(_ error: DecodingError) -> String {
    func at(_ path: [CodingKey]) -> String {
        let joined = path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return joined.isEmpty ? "" : "at \(joined.drop(while: { $0 == "." })): "
    }
    switch error {
    case .keyNotFound(let key, let context): return "\(at(context.codingPath))missing key \"\(key.stringValue)\""
    case .typeMismatch(let type, let context): return "\(at(context.codingPath))expected \(type)"
    case .valueNotFound(let type, let context): return "\(at(context.codingPath))expected \(type), found null"
    case .dataCorrupted(let context): return "\(at(context.codingPath))\(context.debugDescription)"
    @unknown default: return "\(error)"
    }
}
