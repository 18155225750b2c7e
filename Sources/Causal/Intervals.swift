import Foundation

// Stand-ins until the Statistics module lands on main; then these call it.

/// The 95% Wilson score interval; nil for no trials.
func wilsonInterval95(successes: Int, trials: Int) -> ClosedRange<Double>? {
    guard trials > 0 else { return nil }
    let z = 1.959963984540054, n = Double(trials), p = Double(successes) / n, z2 = z * z
    let centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    let half = z / (1 + z2 / n) * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
    return max(0, centre - half)...min(1, centre + half)
}

/// Exact two-sided McNemar: min(1, 2 P(X ≤ min(b, c))), X ~ Binomial(b + c, 1/2).
func mcnemarExactTwoSidedP(_ b: Int, _ c: Int) -> Double {
    let n = b + c
    guard n > 0 else { return 1 }
    let k = min(b, c)
    // log C(n, i) built up term by term: C(n, i) = C(n, i-1) (n - i + 1) / i.
    let logHalfPower = Double(n) * log(0.5)
    var terms: [Double] = [logHalfPower]
    var logChoose = 0.0
    for i in stride(from: 1, through: k, by: 1) {
        logChoose += log(Double(n - i + 1)) - log(Double(i))
        terms.append(logChoose + logHalfPower)
    }
    let top = terms.max()!
    return min(1, 2 * exp(top + log(terms.reduce(0) { $0 + exp($1 - top) })))
}
