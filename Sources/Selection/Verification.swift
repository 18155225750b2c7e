import Foundation
import Probe
import Reports
import Statistics

/// One comparison of a run with an expectation.
public struct Check: Sendable, Equatable {
    /// What is compared: "L14H3", "L14H3 steps=3", "model", "claims[0]: best head (L3H1) beats model by".
    public let subject: String
    public let expected: String
    public let actual: String
    /// nil for exact comparisons (sample counts).
    public let tolerance: Double?
    public let passed: Bool

    /// "L14H3: expected 0.8100, actual 0.7500, tolerance 0.0200"
    public var line: String {
        "\(subject): expected \(expected), actual \(actual)" + (tolerance.map { ", tolerance \($0)" } ?? "")
    }
}

/// Every check of one run against one expectations file.
public struct Verification: Sendable {
    public let run: String
    public let source: String
    public let tolerance: Double
    public let checks: [Check]

    public var failures: [Check] { checks.filter { !$0.passed } }
    public var passed: Bool { failures.isEmpty }

    /// One line per failing check.
    public var diff: String { failures.map(\.line).joined(separator: "\n") }

    public var summary: String {
        let against = "against \(source) (tolerance \(tolerance))"
        return passed ? "\(run): all \(checks.count) checks pass \(against)"
                      : "\(run): \(failures.count) of \(checks.count) checks fail \(against)"
    }
}

/// Thrown by `ProbeRun.verify` when a check fails; the description lists every failure.
public struct VerificationFailure: Error, CustomStringConvertible, Sendable {
    public let verification: Verification
    public var description: String { verification.summary + "\n" + verification.diff }
}

/// A check passes when |actual - expected| <= tolerance + slack (or, for a bound, when it holds
/// within tolerance + slack); the slack absorbs float rounding of accuracies (k/n stored as Float),
/// far below one sample in any real dataset.
let comparisonSlack = 1e-6

extension ProbeRun {
    /// Checks the run against an expectations file and throws `VerificationFailure` (listing every
    /// failing check) unless all pass. For XCTest: `XCTAssertNoThrow(try run.verify(expected: url))`.
    @discardableResult
    public func verify(expected url: URL, tolerance: Double = 0.02) throws -> Verification {
        let verification = try check(Expectation(contentsOf: url), tolerance: tolerance)
        guard verification.passed else { throw VerificationFailure(verification: verification) }
        return verification
    }

    /// Compares the run with `expectation`. Throws (rather than failing a check) when the two
    /// cannot be compared: another model, another head layout or q/k convention, a head the run
    /// does not have, a group with no samples, or a run with unfinished rows.
    public func check(_ expectation: Expectation, tolerance: Double = 0.02) throws -> Verification {
        let source = expectation.source
        guard tolerance.isFinite, tolerance >= 0 else {
            throw SelectionError(source, "the tolerance must be a number of at least 0, not \(tolerance)")
        }
        if let expected = expectation.modelSHA256, expected != header.modelSHA256 {
            throw SelectionError(name, "made with model_sha256 \(short(header.modelSHA256)) but \(source) is about "
                + "model_sha256 \(short(expected)); head results of different models cannot be compared")
        }
        guard unfinishedRows == 0 else {
            throw SelectionError(name, "\(unfinishedRows) of \(samples.count) rows are unfinished; "
                + "finish the run (qkprobe probe --resume) before verifying it")
        }
        let near = { (subject: String, expected: Double?, actual: Float) in
            approximate(subject, expected: expected, actual: actual, tolerance: tolerance)
        }
        var checks: [Check] = []
        if let table = expectation.table { checks += try tableChecks(table, source: source, near) }
        if let baseline = expectation.baseline { checks.append(near("model", baseline, tables.overall.baseline)) }
        for (name, accuracy) in expectation.heads {
            let id = try head(named: name, in: source)
            checks.append(near(name, accuracy, tables.overall.heads[id.layer * heads + id.head]))
        }
        for (index, claim) in expectation.claims.enumerated() {
            checks.append(try check(claim, label: "claims[\(index)]", source: source, tolerance: tolerance))
        }
        return Verification(run: name, source: source, tolerance: tolerance, checks: checks)
    }

    private func tableChecks(_ table: HeadTableDocument, source: String,
                             _ near: (String, Double?, Float) -> Check) throws -> [Check] {
        func refuse(_ problem: String) -> SelectionError { SelectionError(source, problem) }
        guard (table.layers, table.heads) == (layers, heads) else {
            throw refuse("a table of \(table.layers) layers x \(table.heads) heads, but \(name) has \(layers) x \(heads)")
        }
        guard table.qkRope == header.qkRope.rawValue, table.qkScale == scaleName else {
            throw refuse("scores q/k \(table.qkRope)-rotary scaled by \(table.qkScale), but \(name) "
                + "\(header.qkRope.rawValue)-rotary scaled by \(scaleName)")
        }
        guard table.options == options else {
            throw refuse("has options \(table.options) but \(name) has \(options)")
        }
        func groupChecks(_ label: String, _ expected: HeadTableDocument.Group?, _ actual: AccuracyGroup?) -> [Check] {
            let counted = Check(subject: "\(label) samples", expected: "\(expected?.count ?? 0)", actual: "\(actual?.count ?? 0)",
                                tolerance: nil, passed: expected?.count ?? 0 == actual?.count ?? 0)
            guard let expected, let actual else { return [counted] }
            return [counted, near("model \(label)", expected.baseline, actual.baseline)]
                + headChecks(expected.accuracy, actual.heads, suffix: " \(label)")
        }
        func headChecks(_ expected: [[Double?]], _ actual: [Float], suffix: String) -> [Check] {
            (0..<layers).flatMap { l in
                (0..<heads).map { h in near(headName(layer: l, head: h) + suffix, expected[l][h], actual[l * heads + h]) }
            }
        }
        var checks = [
            Check(subject: "labelled samples", expected: "\(table.nLabelled)", actual: "\(labelledCount)",
                  tolerance: nil, passed: table.nLabelled == labelledCount),
            near("model", table.baseline, tables.overall.baseline),
        ] + headChecks(table.accuracy, tables.overall.heads, suffix: "")
        for (grouping, expected, actual) in [("steps", table.bySteps, tables.bySteps),
                                             ("distractors", table.byDistractors, tables.byDistractors)] {
            let values = Set(expected.map(\.value)).union(actual.compactMap(\.value)).sorted()
            for value in values {
                checks += groupChecks("\(grouping)=\(value)", expected.first { $0.value == value },
                                      actual.first { $0.value == value })
            }
        }
        return checks
    }

    private func check(_ claim: Expectation.Claim, label: String, source: String, tolerance: Double) throws -> Check {
        let (group, groupSuffix) = try accuracyGroup(claim.group, label: label, source: source)
        let accuracies = group.heads.map(Double.init)
        let id: HeadID
        let who: String
        switch claim.subject {
        case .bestHead:
            // The first maximum: equal accuracies keep layer-then-head order, as rankings do.
            let best = accuracies.indices.reduce(0) { accuracies[$1] > accuracies[$0] ? $1 : $0 }
            id = HeadID(layer: best / heads, head: best % heads)
            who = "best head (\(id.name))"
        case .head(let headName):
            id = try head(named: headName, in: source)
            who = headName
        }
        let accuracy = accuracies[id.layer * heads + id.head]
        let baseline = Double(group.baseline)
        let margin = tolerance + comparisonSlack
        func bound(_ what: String, _ relation: String, _ expected: Double, _ actual: Double, _ holds: Bool,
                   _ detail: String = "") -> Check {
            Check(subject: "\(label): \(who) \(what)\(groupSuffix)", expected: "\(relation) \(decimal(expected))",
                  actual: decimal(actual) + detail, tolerance: tolerance, passed: holds)
        }
        switch claim.comparison {
        case .atLeast(let x):
            return bound("at least", ">=", x, accuracy, accuracy >= x - margin)
        case .atMost(let x):
            return bound("at most", "<=", x, accuracy, accuracy <= x + margin)
        case .beatsBaselineBy(let x):
            return bound("beats model by", ">=", x, accuracy - baseline, accuracy - baseline >= x - margin,
                         " (\(decimal(accuracy)) vs model \(decimal(baseline)))")
        case .beatsModel(let bound):
            let rows = try groupRows(claim.group)
            let statistics = HeadStatistics(samples, rows: rows, permutations: 0)
            let index = id.layer * heads + id.head
            let versus = statistics.vsModel[index]
            let p = versus.p
            let better = versus.onlyHead > versus.onlyModel
            return Check(subject: "\(label): \(who) beats model\(groupSuffix)", expected: "more accurate, McNemar p < \(bound)",
                         actual: "\(decimal(accuracy)) vs model \(decimal(baseline)), p = \(pValue(p))",
                         tolerance: nil, passed: better && p < bound)
        case .beatsChance(let bound):
            let rows = try groupRows(claim.group)
            let statistics = HeadStatistics(samples, rows: rows, permutations: permutations, seed: permutationSeed)
            let p = statistics.adjustedP(id.layer * heads + id.head) ?? 1
            let kind = claim.subject == .bestHead ? "family-wise" : "max-T adjusted"
            return Check(subject: "\(label): \(who) beats chance\(groupSuffix)",
                         expected: "\(kind) p < \(bound) (\(permutations) label permutations, seed \(permutationSeed))",
                         actual: "\(decimal(accuracy)), p = \(pValue(p))", tolerance: nil, passed: p < bound)
        case .inTop(let n):
            let sorted = accuracies.sorted(by: >)
            let threshold = sorted[min(n, sorted.count) - 1]
            let rank = 1 + accuracies.filter { $0 > accuracy }.count
            return Check(subject: "\(label): \(who) in top \(n)\(groupSuffix)",
                         expected: ">= \(decimal(threshold)) (the \(ordinal(min(n, sorted.count))) best head)",
                         actual: "\(decimal(accuracy)) (rank \(rank))", tolerance: tolerance, passed: accuracy >= threshold - margin)
        }
    }
}

extension ProbeRun {
    /// The label permutations of significance claims, and their seed: the `heads` defaults.
    var permutations: Int { HeadStatistics.defaultPermutations }
    var permutationSeed: UInt64 { 0 }

    /// The complete, labelled rows of a claim's group.
    private func groupRows(_ selector: Expectation.Claim.Group?) throws -> [Int] {
        let rows = samples.scoredIndices
        switch selector {
        case nil: return rows
        case .steps(let v): return rows.filter { samples.steps[$0] == v }
        case .distractors(let v): return rows.filter { samples.distractors[$0] == v }
        }
    }

    /// The samples a claim is about, and how its checks name them (", steps=3").
    private func accuracyGroup(_ selector: Expectation.Claim.Group?, label: String, source: String) throws
        -> (AccuracyGroup, String) {
        let (grouping, value, groups): (String, Int, [AccuracyGroup])
        switch selector {
        case nil: return (tables.overall, "")
        case .steps(let v): (grouping, value, groups) = ("steps", v, tables.bySteps)
        case .distractors(let v): (grouping, value, groups) = ("distractors", v, tables.byDistractors)
        }
        guard let group = groups.first(where: { $0.value == value }) else {
            let known = groups.compactMap(\.value).map(String.init).joined(separator: ", ")
            throw SelectionError(source, "\(label): \(name) has no labelled samples with \(grouping)=\(value) "
                + "(it has \(known.isEmpty ? "none" : known))")
        }
        return (group, ", \(grouping)=\(value)")
    }
}

/// An accuracy compared within the tolerance; an empty group (nil, NaN) only matches another.
private func approximate(_ subject: String, expected: Double?, actual: Float, tolerance: Double) -> Check {
    let actualValue: Double? = actual.isFinite ? Double(actual) : nil
    let passed = switch (expected, actualValue) {
    case (nil, nil): true
    case let (e?, a?): abs(a - e) <= tolerance + comparisonSlack
    default: false
    }
    return Check(subject: subject, expected: expected.map(decimal) ?? "none (no samples)",
                 actual: actualValue.map(decimal) ?? "none (no samples)", tolerance: tolerance, passed: passed)
}

func decimal(_ x: Double) -> String { x.isFinite ? String(format: "%.4f", x) : "none" }

private func ordinal(_ n: Int) -> String {
    let suffix = (11...13).contains(n % 100) ? "th" : [1: "st", 2: "nd", 3: "rd"][n % 10] ?? "th"
    return "\(n)\(suffix)"
}
