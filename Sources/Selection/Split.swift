import LogicTasks
import Probe

/// How one run was split into a calibration part and a held-out part.
public struct SplitSettings: Codable, Sendable, Equatable {
    /// The share of each label's rows that goes to calibration, in (0, 1).
    public var fraction: Double
    public var seed: UInt64

    public init(fraction: Double, seed: UInt64) {
        self.fraction = fraction
        self.seed = seed
    }
}

extension ProbeRun {
    /// Splits the complete, labelled rows into a calibration part and a held-out part,
    /// stratified by label, the same way for the same seed on every machine:
    ///
    /// 1. the rows of each label, in file order, are shuffled (Fisher-Yates) by one SplitMix64
    ///    stream seeded with `seed`, labels taken in ascending order;
    /// 2. the first `round(fraction * count)` rows of each label (halves round away from zero)
    ///    go to calibration, the rest are held out;
    /// 3. each part keeps its rows in file order.
    ///
    /// Unlabelled and unfinished rows count towards no accuracy, so neither part keeps them.
    public func split(_ settings: SplitSettings) throws -> (calibration: ProbeRun, heldOut: ProbeRun) {
        let fraction = settings.fraction
        guard fraction.isFinite, fraction > 0, fraction < 1 else {
            throw SelectionError(name, "the split fraction must lie strictly between 0 and 1, not \(fraction)")
        }
        var random = SplitMix64(seed: settings.seed)
        var calibration: [Int] = [], heldOut: [Int] = []
        let rowsByLabel = Dictionary(grouping: samples.scoredIndices) { samples.labels[$0] }
        for label in rowsByLabel.keys.sorted() {
            var rows = rowsByLabel[label] ?? []
            random.shuffle(&rows)
            let taken = Int((fraction * Double(rows.count)).rounded())
            calibration += rows[..<taken]
            heldOut += rows[taken...]
        }
        let percentage = Int((fraction * 100).rounded())
        guard !calibration.isEmpty, !heldOut.isEmpty else {
            throw SelectionError(name, "a \(percentage)% split of \(calibration.count + heldOut.count) labelled rows "
                + "leaves no \(calibration.isEmpty ? "calibration" : "held-out") rows")
        }
        func part(_ rows: [Int], _ label: String) -> ProbeRun {
            ProbeRun(url: url, name: "\(name) [\(label), seed \(settings.seed)]", header: header, options: options,
                     samples: samples.rows(rows.sorted()))
        }
        return (part(calibration, "\(percentage)% calibration"), part(heldOut, "\(100 - percentage)% held out"))
    }
}

extension ScoredSamples {
    /// The given rows only, in the given order.
    func rows(_ indices: [Int]) -> ScoredSamples {
        let perSample = options * layers * heads
        return ScoredSamples(
            options: options, layers: layers, heads: heads,
            qk: indices.flatMap { qk[($0 * perSample)..<(($0 + 1) * perSample)] },
            modelLogits: indices.flatMap { modelLogits[($0 * options)..<(($0 + 1) * options)] },
            labels: indices.map { labels[$0] }, steps: indices.map { steps[$0] },
            distractors: indices.map { distractors[$0] }, complete: indices.map { complete[$0] },
            groups: indices.map { groups[$0] })
    }
}

/// Bounded integers and a shuffle of our own: the standard library's `shuffle(using:)` may change
/// between Swift versions, and a seed must give the same split everywhere.
extension SplitMix64 {
    /// A uniform integer in 0..<bound, by rejection (no modulo bias).
    mutating func below(_ bound: Int) -> Int {
        let limit = UInt64(bound)
        let threshold = (0 &- limit) % limit  // 2^64 mod bound: values below it would bias the result
        while true {
            let value = next()
            if value >= threshold { return Int(value % limit) }
        }
    }

    /// Fisher-Yates.
    mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for index in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(index, below(index + 1))
        }
    }
}
