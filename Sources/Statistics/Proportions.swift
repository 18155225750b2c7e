import Foundation

/// The two-sided 95% normal quantile, Φ⁻¹(0.975).
public let z95 = 1.959963984540054

/// A proportion with its 95% Wilson score interval.
///
/// Wilson (1927): the set of p for which |k/n - p| ≤ z √(p(1-p)/n), solved for p. Unlike the
/// normal (Wald) interval it stays inside [0, 1] and is not empty at k = 0 or k = n, which is
/// where a head that always answers one option often sits.
public struct Proportion: Sendable, Equatable, Codable {
    public let successes: Int
    public let trials: Int

    public init(successes: Int, trials: Int) {
        precondition(trials >= 0 && (0...max(trials, 0)).contains(successes), "successes must lie in 0...trials")
        self.successes = successes
        self.trials = trials
    }

    /// nil when there are no trials.
    public var estimate: Double? { trials == 0 ? nil : Double(successes) / Double(trials) }

    /// The 95% Wilson interval; nil when there are no trials.
    public var wilson95: ClosedRange<Double>? { wilsonInterval(successes: successes, trials: trials, z: z95) }
}

/// The Wilson score interval for `successes` of `trials` at normal quantile `z`; nil for no trials.
public func wilsonInterval(successes: Int, trials: Int, z: Double = z95) -> ClosedRange<Double>? {
    guard trials > 0 else { return nil }
    let n = Double(trials), p = Double(successes) / n, z2 = z * z
    let centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    let halfWidth = z / (1 + z2 / n) * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
    // At k = 0 the lower end is exactly 0 and at k = n the upper end exactly 1; computed, they
    // can land a rounding error inside or outside.
    let low = successes == 0 ? 0 : max(0, centre - halfWidth)
    let high = successes == trials ? 1 : min(1, centre + halfWidth)
    return low...high
}

/// The exact two-sided McNemar test of paired correctness: of the pairs where the two raters
/// disagree, `onlyFirst` favour the first and `onlySecond` the second; under the null each
/// discordant pair goes either way with probability 1/2. The p-value is
/// min(1, 2 · P(X ≤ min(b, c))) for X ~ Binomial(b + c, 1/2); 1 when there are no discordant pairs.
public func mcnemarExactP(onlyFirst b: Int, onlySecond c: Int) -> Double {
    precondition(b >= 0 && c >= 0, "counts must not be negative")
    let n = b + c
    guard n > 0 else { return 1 }
    return min(1, 2 * binomialHalfCDF(min(b, c), trials: n))
}

/// P(X ≤ k) for X ~ Binomial(n, 1/2), summed in log space so that n in the millions neither
/// overflows nor underflows term by term.
func binomialHalfCDF(_ k: Int, trials n: Int) -> Double {
    guard k >= 0 else { return 0 }
    guard k < n else { return 1 }
    let logHalfPower = Double(n) * log(0.5)
    let logN = logFactorial(n)
    var terms: [Double] = []
    terms.reserveCapacity(k + 1)
    for i in 0...k {
        terms.append(logN - logFactorial(i) - logFactorial(n - i) + logHalfPower)
    }
    let top = terms.max() ?? 0
    let sum = terms.reduce(0) { $0 + exp($1 - top) }
    return min(1, exp(top + log(sum)))
}

/// log(n!) through the C library's log-gamma (annotated: Glibc also offers a (value, sign) form).
private func logFactorial(_ n: Int) -> Double {
    let value: Double = lgamma(Double(n) + 1)
    return value
}
