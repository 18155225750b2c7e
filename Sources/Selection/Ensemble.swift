import Probe

/// The top heads of a calibration set, answering together, two ways.
///
/// - Majority vote: each head votes for the option it scores highest (the first option wins a
///   head's own tie, as for a single head). The option with most votes wins; when options tie on
///   votes, the best-ranked head among those voting for one of the tied options decides. So one
///   head alone answers as that head does, and two heads that disagree answer as the better one.
/// - Summed z-scores: each head's scores are standardised with its mean and standard deviation
///   over every option of every calibration sample the ranking counted (complete and labelled),
///   z = (S - mean) / sd; the option with the largest sum of z over the heads wins (the first
///   option on a tie). Test sets never feed the statistics. The mean is shared by all options of
///   a head, so it cancels in the comparison: in effect each head's scores are weighted by
///   1 / sd, and a head with sd 0 on calibration (constant scores) adds nothing.
public struct HeadEnsemble: Sendable, Equatable {
    /// Best first.
    public let heads: [HeadID]
    /// Per head, over the calibration scores (population statistics, in Double).
    public let scoreMean: [Double]
    public let scoreDeviation: [Double]

    public init(heads: [HeadID], calibration: ScoredSamples) {
        self.heads = heads
        let rows = calibration.scoredIndices
        var means: [Double] = [], deviations: [Double] = []
        for id in heads {
            let values = rows.flatMap { n in (0..<calibration.options).map { Double(calibration.score(n, $0, id)) } }
            let mean = values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
            let variance = values.isEmpty ? 0 : values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
            means.append(mean)
            deviations.append(variance.squareRoot())
        }
        scoreMean = means
        scoreDeviation = deviations
    }

    public func majorityVote(_ samples: ScoredSamples, sample n: Int) -> Int {
        let choices = heads.map { samples.headChoice(sample: n, layer: $0.layer, head: $0.head) }
        var votes = [Int](repeating: 0, count: samples.options)
        for choice in choices { votes[choice] += 1 }
        let most = votes.max() ?? 0
        return choices.first { votes[$0] == most } ?? 0
    }

    /// Per option, the sum over heads of the standardised scores.
    public func summedZScores(_ samples: ScoredSamples, sample n: Int) -> [Double] {
        (0..<samples.options).map { option in
            heads.indices.reduce(0) { sum, i in
                let deviation = scoreDeviation[i]
                guard deviation > 0, deviation.isFinite else { return sum }
                return sum + (Double(samples.score(n, option, heads[i])) - scoreMean[i]) / deviation
            }
        }
    }

    public func zSumChoice(_ samples: ScoredSamples, sample n: Int) -> Int {
        let sums = summedZScores(samples, sample: n)
        var best = 0
        for option in sums.indices where sums[option] > sums[best] { best = option }
        return best
    }
}

extension ScoredSamples {
    /// The QK-score of one head for one option of sample `n`.
    func score(_ n: Int, _ option: Int, _ id: HeadID) -> Float {
        qk[((n * options + option) * layers + id.layer) * heads + id.head]
    }

    /// One head's scores for every option of sample `n`.
    func scores(_ n: Int, _ id: HeadID) -> [Double] {
        (0..<options).map { Double(score(n, $0, id)) }
    }
}
