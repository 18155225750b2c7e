/// A per-option offset added to a rule's scores before it picks the highest, fitted on
/// calibration rows to undo an option bias (a head whose scores favour " True" whatever the
/// problem), then applied unchanged to other rows.
///
/// - Two options: the decision is "option 0 when s0 - s1 ≥ t". The threshold t is fitted to
///   maximise balanced accuracy (mean per-label recall) on the calibration rows, over the
///   midpoints between successive distinct margins and the two ends; among equally good
///   thresholds the one nearest 0 (the plain argmax) wins. Offsets are (0, t): option 1 wins
///   when s1 + t > s0.
/// - More options: each option's score is centred on its calibration mean (offset −mean).
///
/// With no calibration rows the offsets are zero: the plain argmax.
public struct OptionOffsets: Sendable, Equatable, Codable {
    public let offsets: [Double]

    public init(offsets: [Double]) { self.offsets = offsets }

    /// Fits offsets to `scores[i][o]` (row i, option o) and `labels[i]`.
    public init(fittingScores scores: [[Double]], labels: [Int], options: Int) {
        precondition(scores.count == labels.count && scores.allSatisfy { $0.count == options }, "one score per option per row")
        guard !scores.isEmpty else {
            offsets = Array(repeating: 0, count: options)
            return
        }
        guard options == 2 else {
            offsets = (0..<options).map { o in -scores.reduce(0) { $0 + $1[o] } / Double(scores.count) }
            return
        }
        let margins = scores.map { $0[0] - $0[1] }
        let distinct = Array(Set(margins)).sorted()
        // Every distinct decision: below all margins, between two successive ones, above all; and 0.
        let candidates = [0, distinct[0] - 1, distinct[distinct.count - 1] + 1]
            + zip(distinct, distinct.dropFirst()).map { ($0 + $1) / 2 }
        var best = 0.0, bestScore = -1.0
        for t in candidates {
            let answers = margins.map { $0 >= t ? 0 : 1 }
            let score = Classification.balancedAccuracy(labels: labels, answers: answers) ?? 0
            if score > bestScore + 1e-12 || (abs(score - bestScore) <= 1e-12 && abs(t) < abs(best)) {
                best = t
                bestScore = score
            }
        }
        offsets = [0, best]
    }

    /// The option picked for one row's scores: the largest score plus offset, the first on a tie.
    public func choice(_ scores: [Double]) -> Int {
        var best = 0
        for o in 1..<scores.count where scores[o] + offsets[o] > scores[best] + offsets[best] { best = o }
        return best
    }
}
