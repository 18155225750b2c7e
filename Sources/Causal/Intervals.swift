import Statistics

/// The 95% Wilson score interval; nil for no trials (the Statistics module's).
func wilsonInterval95(successes: Int, trials: Int) -> ClosedRange<Double>? {
    wilsonInterval(successes: successes, trials: trials, z: z95)
}

/// Exact two-sided McNemar p-value of `b` against `c` discordant pairs (the Statistics module's).
func mcnemarExactTwoSidedP(_ b: Int, _ c: Int) -> Double {
    mcnemarExactP(onlyFirst: b, onlySecond: c)
}
