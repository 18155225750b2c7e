/// Is the best of many rules (the L × H heads) better than chance, given that it was picked as the
/// best? A label-permutation test of the maximum (Westfall and Young's single-step max-T, with
/// the number of correct answers as the statistic).
///
/// Each permutation shuffles the labels among the rows (keeping how many rows carry each label)
/// and records the largest number of correct answers any rule gets against the shuffled labels.
/// Rule j's adjusted p is (1 + #{permutations whose maximum ≥ correct_j}) / (1 + permutations);
/// the best rule's adjusted p is the family-wise p of "the best head beats chance". A rule that
/// always gives the majority answer gets the same count under every permutation, so constant
/// rules do not look like findings.
///
/// The shuffle is our own Fisher-Yates on the generator's raw 64-bit words (bounded integers by
/// rejection, as `Statistics.below` does), so a seed gives the same p on every machine and a
/// Python reimplementation of the generator reproduces it exactly.
public struct PermutationMaxTest: Sendable, Equatable {
    public let permutations: Int
    public let rows: Int
    /// Per rule, correct answers on the observed labels.
    public let correct: [Int]
    /// Per permutation, the largest number of correct answers over the rules.
    public let nullMaxima: [Int]
    /// Per rule, the max-T adjusted p.
    public let adjustedP: [Double]

    /// `answers[r][i]`: the option rule r picks on row i; `labels[i]` the right option. All in
    /// 0..<options. Rows without a label must be dropped by the caller.
    public init<G: RandomNumberGenerator>(labels: [Int], answers: [[Int]], options: Int, permutations: Int,
                                          using generator: inout G) {
        precondition(options > 0 && permutations >= 0, "needs options and a permutation count")
        precondition(answers.allSatisfy { $0.count == labels.count }, "one answer per row for every rule")
        let n = labels.count, words = (n + 63) / 64
        // One bit set per (rule, option): row i's bit is set where the rule answers that option.
        var answerBits = [UInt64](repeating: 0, count: answers.count * options * words)
        for (r, ruleAnswers) in answers.enumerated() {
            for (i, option) in ruleAnswers.enumerated() {
                precondition((0..<options).contains(option), "answer out of range")
                answerBits[(r * options + option) * words + i / 64] |= 1 << UInt64(i % 64)
            }
        }
        func correctCounts(_ labels: [Int]) -> [Int] {
            var labelBits = [UInt64](repeating: 0, count: options * words)
            for (i, label) in labels.enumerated() { labelBits[label * words + i / 64] |= 1 << UInt64(i % 64) }
            return (0..<answers.count).map { r in
                var count = 0
                for o in 0..<options {
                    let a = (r * options + o) * words, b = o * words
                    for w in 0..<words { count += (answerBits[a + w] & labelBits[b + w]).nonzeroBitCount }
                }
                return count
            }
        }
        precondition(labels.allSatisfy { (0..<options).contains($0) }, "label out of range")
        self.permutations = permutations
        rows = n
        correct = correctCounts(labels)
        var shuffled = labels
        var maxima: [Int] = []
        maxima.reserveCapacity(permutations)
        for _ in 0..<permutations {
            fisherYates(&shuffled, using: &generator)
            maxima.append(correctCounts(shuffled).max() ?? 0)
        }
        nullMaxima = maxima
        let sorted = maxima.sorted()
        adjustedP = correct.map { observed in
            // Permutations whose maximum reaches the observed count.
            let atLeast = sorted.count - lowerBound(sorted, observed)
            return Double(1 + atLeast) / Double(1 + permutations)
        }
    }

    /// The index of the best rule (most correct; the first on a tie), nil when there are none.
    public var best: Int? { correct.indices.max { correct[$0] < correct[$1] || (correct[$0] == correct[$1] && $0 > $1) } }

    /// The family-wise p of the best rule: its adjusted p. nil when there are no rules.
    public var familywiseP: Double? { best.map { adjustedP[$0] } }

    /// The accuracy the best rule would need to be significant at `alpha`: the smallest count c
    /// with (1 + #{maxima ≥ c}) / (1 + permutations) ≤ alpha, as a fraction of rows; nil when no
    /// count would do (too few permutations, or no rows).
    public func significantAccuracy(alpha: Double) -> Double? {
        guard rows > 0 else { return nil }
        let sorted = nullMaxima.sorted()
        for c in 0...rows where Double(1 + sorted.count - lowerBound(sorted, c)) / Double(1 + permutations) <= alpha {
            return Double(c) / Double(rows)
        }
        return nil
    }
}

/// Fisher-Yates from the last position down, each swap partner drawn by `below`.
func fisherYates<T, G: RandomNumberGenerator>(_ items: inout [T], using generator: inout G) {
    guard items.count > 1 else { return }
    for index in stride(from: items.count - 1, to: 0, by: -1) {
        items.swapAt(index, below(index + 1, using: &generator))
    }
}

/// A uniform integer in 0..<bound from raw 64-bit words, by rejection (no modulo bias): words
/// below 2^64 mod bound are drawn again.
func below<G: RandomNumberGenerator>(_ bound: Int, using generator: inout G) -> Int {
    precondition(bound > 0, "empty range")
    let limit = UInt64(bound)
    let threshold = (0 &- limit) % limit
    while true {
        let value = generator.next()
        if value >= threshold { return Int(value % limit) }
    }
}

/// The first index whose value is ≥ `value` in an ascending array.
private func lowerBound(_ sorted: [Int], _ value: Int) -> Int {
    var low = 0, high = sorted.count
    while low < high {
        let mid = (low + high) / 2
        if sorted[mid] < value { low = mid + 1 } else { high = mid }
    }
    return low
}
