import Foundation

/// A mean with its 95% t interval.
public struct MeanEstimate: Sendable, Equatable {
    public let count: Int
    public let mean: Double?
    public let standardDeviation: Double?
    /// mean ± t(0.975, n-1) · sd / √n; nil below two values.
    public let interval95: ClosedRange<Double>?

    public init(_ values: [Double]) {
        count = values.count
        guard !values.isEmpty else {
            mean = nil
            standardDeviation = nil
            interval95 = nil
            return
        }
        let average = values.reduce(0, +) / Double(values.count)
        mean = average
        guard values.count > 1 else {
            standardDeviation = nil
            interval95 = nil
            return
        }
        let sd = (values.map { ($0 - average) * ($0 - average) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
        standardDeviation = sd
        let half = studentT975(degreesOfFreedom: values.count - 1) * sd / Double(values.count).squareRoot()
        interval95 = (average - half)...(average + half)
    }
}

/// The model on a dataset under one condition (clean, or with some heads off).
public struct ConditionSummary: Sendable, Equatable {
    /// Labelled samples.
    public let labelled: Int
    public let correct: Int
    /// Per sample: whether the model picks the right option (nil when unlabelled).
    public let isCorrect: [Bool?]
    /// Per sample: right option's logit minus the best wrong one's (nil when unlabelled).
    public let logitDifferences: [Double?]
    public let logitDifference: MeanEstimate

    public init(logits: [[Float]], labels: [Int?]) {
        isCorrect = zip(logits, labels).map { logits, label in label.map { chosenOption(logits) == $0 } }
        logitDifferences = zip(logits, labels).map { rightMinusWrong($0, label: $1) }
        labelled = isCorrect.compactMap { $0 }.count
        correct = isCorrect.filter { $0 == true }.count
        logitDifference = MeanEstimate(logitDifferences.compactMap { $0 })
    }

    public var accuracy: Double? { labelled == 0 ? nil : Double(correct) / Double(labelled) }
    public var accuracyInterval95: ClosedRange<Double>? { wilsonInterval95(successes: correct, trials: labelled) }
}

/// One condition against another on the same samples.
public struct PairedChange: Sendable, Equatable {
    /// Samples right clean and wrong ablated, and the reverse.
    public let lost: Int
    public let gained: Int
    /// Exact two-sided McNemar p-value of `lost` against `gained`.
    public let mcnemarP: Double
    /// Per labelled sample: ablated minus clean logit difference.
    public let logitDifferenceChange: MeanEstimate

    public init(clean: ConditionSummary, ablated: ConditionSummary) {
        let pairs = zip(clean.isCorrect, ablated.isCorrect).compactMap { a, b in a.flatMap { a in b.map { (a, $0) } } }
        lost = pairs.filter { $0.0 && !$0.1 }.count
        gained = pairs.filter { !$0.0 && $0.1 }.count
        mcnemarP = mcnemarExactTwoSidedP(lost, gained)
        logitDifferenceChange = MeanEstimate(zip(clean.logitDifferences, ablated.logitDifferences).compactMap { a, b in
            a.flatMap { a in b.map { $0 - a } }
        })
    }
}

/// The 0.975 quantile of Student's t with `degreesOfFreedom`, by the Cornish-Fisher expansion
/// about the normal quantile (Abramowitz and Stegun 26.7.5): within 3e-4 of the exact value
/// from 5 degrees of freedom on; tabled exact values below.
func studentT975(degreesOfFreedom df: Int) -> Double {
    switch df {
    case ..<1: return .nan
    case 1: return 12.706204736174705
    case 2: return 4.302652729749464
    case 3: return 3.182446305284263
    case 4: return 2.7764451051977987
    default:
        let z = 1.959963984540054, n = Double(df)
        let z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z, z9 = z7 * z * z
        return z + (z3 + z) / (4 * n) + (5 * z5 + 16 * z3 + 3 * z) / (96 * n * n)
            + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * n * n * n)
            + (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / (92160 * n * n * n * n)
    }
}
