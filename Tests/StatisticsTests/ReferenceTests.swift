import Foundation
import LogicTasks
import XCTest

@testable import Statistics

/// Reference values from scipy, statsmodels and scikit-learn (reference/make_statistics_fixtures.py).
struct StatisticsFixture: Decodable {
    struct Wilson: Decodable { let successes: Int, trials: Int, low: Double?, high: Double? }
    struct McNemar: Decodable {
        let onlyFirst: Int, onlySecond: Int, p: Double
        enum CodingKeys: String, CodingKey { case onlyFirst = "only_first", onlySecond = "only_second", p }
    }
    struct Classification: Decodable {
        let name: String, labels: [Int], answers: [Int]
        let balancedAccuracy: Double?, majorityShare: Double?, answerShare: Double?
        enum CodingKeys: String, CodingKey {
            case name, labels, answers, balancedAccuracy = "balanced_accuracy", majorityShare = "majority_share", answerShare = "answer_share"
        }
    }
    struct Permutation: Decodable {
        let name: String, options: Int, permutations: Int, seed: UInt64
        let labels: [Int], answers: [[Int]], correct: [Int], nullMaxima: [Int], adjustedP: [Double]
        let montecarloPermutations: Int, montecarloAdjustedP: [Double]
        enum CodingKeys: String, CodingKey {
            case name, options, permutations, seed, labels, answers, correct
            case nullMaxima = "null_maxima", adjustedP = "adjusted_p"
            case montecarloPermutations = "montecarlo_permutations", montecarloAdjustedP = "montecarlo_adjusted_p"
        }
    }
    let z95: Double
    let wilson: [Wilson]
    let mcnemar: [McNemar]
    let classification: [Classification]
    let permutation: [Permutation]

    static func load() throws -> StatisticsFixture {
        let root = try XCTUnwrap(Bundle.module.resourceURL, "the test bundle has no resources")
        let url = root.appendingPathComponent("Fixtures/statistics.json")
        return try JSONDecoder().decode(StatisticsFixture.self, from: Data(contentsOf: url))
    }
}

final class ReferenceTests: XCTestCase {
    /// statsmodels' proportion_confint(method="wilson"); the formula is closed-form, so the only
    /// difference is rounding.
    func testWilsonIntervalMatchesStatsmodels() throws {
        let fixture = try StatisticsFixture.load()
        XCTAssertEqual(z95, fixture.z95, accuracy: 1e-15)
        for c in fixture.wilson {
            let interval = wilsonInterval(successes: c.successes, trials: c.trials)
            guard let low = c.low, let high = c.high else {
                XCTAssertNil(interval, "\(c.successes)/\(c.trials)")
                continue
            }
            let got = try XCTUnwrap(interval, "\(c.successes)/\(c.trials)")
            XCTAssertEqual(got.lowerBound, low, accuracy: 1e-12, "\(c.successes)/\(c.trials)")
            XCTAssertEqual(got.upperBound, high, accuracy: 1e-12, "\(c.successes)/\(c.trials)")
            XCTAssertEqual(Proportion(successes: c.successes, trials: c.trials).wilson95, got)
        }
        XCTAssertGreaterThan(fixture.wilson.count, 8)
    }

    /// statsmodels' mcnemar(exact=True), itself checked against scipy's binomtest by the script.
    func testExactMcNemarMatchesStatsmodels() throws {
        let fixture = try StatisticsFixture.load()
        for c in fixture.mcnemar {
            let p = mcnemarExactP(onlyFirst: c.onlyFirst, onlySecond: c.onlySecond)
            XCTAssertEqual(p, c.p, accuracy: 1e-12 + 1e-9 * c.p, "b=\(c.onlyFirst) c=\(c.onlySecond)")
        }
        XCTAssertTrue(fixture.mcnemar.contains { $0.onlyFirst + $0.onlySecond == 0 }, "the no-discordant-pairs case")
    }

    /// scikit-learn's balanced_accuracy_score; numpy's bincount for the majority and answer shares.
    func testBalancedAccuracyAndSharesMatchReference() throws {
        let fixture = try StatisticsFixture.load()
        for c in fixture.classification {
            let balanced = Classification.balancedAccuracy(labels: c.labels, answers: c.answers)
            let majority = Classification.majorityShare(c.labels)
            let share = Classification.majorityShare(c.answers)
            for (name, got, want) in [("balanced", balanced, c.balancedAccuracy), ("majority", majority, c.majorityShare),
                                      ("answer share", share, c.answerShare)] {
                if let want {
                    XCTAssertEqual(try XCTUnwrap(got, "\(c.name) \(name)"), want, accuracy: 1e-12, "\(c.name) \(name)")
                } else {
                    XCTAssertNil(got, "\(c.name) \(name)")
                }
            }
        }
    }

    /// The same generator (SplitMix64) and shuffle in Python give the same null maxima and so
    /// identical p-values; numpy's own generator with 20x the permutations agrees within
    /// Monte-Carlo error (5 standard errors of the smaller draw, plus one permutation's step).
    func testPermutationMaxTestMatchesPythonPermutations() throws {
        let fixture = try StatisticsFixture.load()
        for c in fixture.permutation {
            var generator = SplitMix64(seed: c.seed)
            let test = PermutationMaxTest(labels: c.labels, answers: c.answers, options: c.options,
                                          permutations: c.permutations, using: &generator)
            XCTAssertEqual(test.correct, c.correct, c.name)
            XCTAssertEqual(test.nullMaxima, c.nullMaxima, c.name)
            // The same counts give the same fractions; the tolerance only covers JSON's decimal round trip.
            XCTAssertEqual(test.adjustedP.count, c.adjustedP.count, c.name)
            for (p, reference) in zip(test.adjustedP, c.adjustedP) { XCTAssertEqual(p, reference, accuracy: 1e-15, c.name) }
            for (p, reference) in zip(test.adjustedP, c.montecarloAdjustedP) {
                let error = 5 * (reference * (1 - reference) / Double(c.permutations)).squareRoot() + 1 / Double(c.permutations + 1)
                XCTAssertEqual(p, reference, accuracy: error, c.name)
            }
        }
    }
}

final class StatisticsEdgeTests: XCTestCase {
    func testWilsonStaysInsideTheUnitIntervalAndContainsTheEstimate() {
        for n in [1, 2, 7, 100, 1200] {
            for k in [0, n / 3, n / 2, n] {
                let interval = wilsonInterval(successes: k, trials: n)!
                XCTAssertGreaterThanOrEqual(interval.lowerBound, 0)
                XCTAssertLessThanOrEqual(interval.upperBound, 1)
                XCTAssertTrue(interval.contains(Double(k) / Double(n)))
                XCTAssertGreaterThan(interval.upperBound - interval.lowerBound, 0, "never a point, even at 0 or n")
            }
        }
        XCTAssertNil(wilsonInterval(successes: 0, trials: 0))
        XCTAssertNil(Proportion(successes: 0, trials: 0).estimate)
    }

    func testMcNemarIsSymmetricAndBoundedForLargeCounts() {
        XCTAssertEqual(mcnemarExactP(onlyFirst: 0, onlySecond: 0), 1)
        XCTAssertEqual(mcnemarExactP(onlyFirst: 3, onlySecond: 3), 1)
        XCTAssertEqual(mcnemarExactP(onlyFirst: 9, onlySecond: 20), mcnemarExactP(onlyFirst: 20, onlySecond: 9))
        // 100,000 discordant pairs: no overflow, no underflow to NaN.
        let p = mcnemarExactP(onlyFirst: 49_000, onlySecond: 51_000)
        XCTAssertTrue(p > 0 && p < 1e-8, "\(p)")
        XCTAssertEqual(mcnemarExactP(onlyFirst: 50_000, onlySecond: 50_000), 1)
    }

    func testDiscordantPairsCountOnlyDisagreements() {
        let pairs = Classification.discordantPairs(labels: [0, 1, 1, 0, 1], first: [0, 1, 0, 1, 1], second: [1, 1, 1, 0, 0])
        // Row 0: only first right; row 2: only second; row 3: only second; row 4: only first.
        XCTAssertEqual(pairs.onlyFirst, 2)
        XCTAssertEqual(pairs.onlySecond, 2)
    }

    func testMostFrequentBreaksTiesTowardsTheSmallestValue() {
        XCTAssertEqual(Classification.mostFrequent([1, 0, 1, 0])?.value, 0)
        XCTAssertEqual(Classification.mostFrequent([2, 2, 1])?.count, 2)
        XCTAssertNil(Classification.mostFrequent([]))
    }

    /// A constant rule gets the same count under every permutation, so it can never beat the
    /// null; a perfect rule on enough rows always does.
    func testConstantRulesAreNeverSignificantAndPerfectOnesAre() {
        let labels = (0..<200).map { $0 % 3 == 0 ? 0 : 1 }
        var generator = SplitMix64(seed: 5)
        let test = PermutationMaxTest(labels: labels, answers: [Array(repeating: 1, count: 200), labels], options: 2,
                                      permutations: 1000, using: &generator)
        XCTAssertEqual(test.best, 1)
        XCTAssertEqual(test.familywiseP, 1.0 / 1001)
        XCTAssertEqual(test.adjustedP[0], 1)
        XCTAssertEqual(test.permutations, 1000)
        let threshold = try! XCTUnwrap(test.significantAccuracy(alpha: 0.05))
        XCTAssertGreaterThan(threshold, Double(test.correct[0]) / 200, "the null maximum includes the constant rule")
        XCTAssertLessThanOrEqual(threshold, 1)
    }

    func testTheSameSeedGivesTheSameNull() {
        let labels = (0..<64).map { ($0 * 7) % 2 }
        let answers = (0..<10).map { r in (0..<64).map { ($0 * (r + 3)) % 5 == 0 ? 1 : 0 } }
        var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42), c = SplitMix64(seed: 43)
        let first = PermutationMaxTest(labels: labels, answers: answers, options: 2, permutations: 200, using: &a)
        let again = PermutationMaxTest(labels: labels, answers: answers, options: 2, permutations: 200, using: &b)
        let other = PermutationMaxTest(labels: labels, answers: answers, options: 2, permutations: 200, using: &c)
        XCTAssertEqual(first, again)
        XCTAssertNotEqual(first.nullMaxima, other.nullMaxima)
    }
}
