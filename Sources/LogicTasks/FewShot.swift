/// Solved demonstrations put before a prompt (`--shots K --shots-from FILE --seed S`).
///
/// For each sample, `count` labelled samples of the pool, label-balanced (each option position
/// gets count / O of them, the remainder going to positions drawn at random), never the sample
/// itself (same id or same prompt text), in a shuffled order. The draw is keyed by the seed and
/// the sample's id, so a sample gets the same demonstrations whatever else the run holds.
public struct FewShot: Sendable, Equatable {
    public let count: Int
    public let seed: UInt64
    /// The pool's labelled samples, grouped by label.
    private let byLabel: [[LogicSample]]

    public init(pool: [LogicSample], count: Int, seed: UInt64, source: String) throws(DatasetError) {
        guard count >= 1 else { throw DatasetError(source, "--shots must be at least 1") }
        let labelled = pool.filter { $0.label != nil }
        guard let options = labelled.first?.options.count else {
            throw DatasetError(source, "no labelled samples to draw demonstrations from")
        }
        var byLabel = [[LogicSample]](repeating: [], count: options)
        for sample in labelled where sample.options.count == options && sample.label! < options { byLabel[sample.label!].append(sample) }
        // Each label needs its share plus one spare, since a sample never demonstrates itself.
        let share = (count + options - 1) / options
        if let short = byLabel.indices.first(where: { byLabel[$0].count < share + 1 }) {
            throw DatasetError(source, "\(count) label-balanced demonstrations need \(share + 1) samples with label \(short), the file has \(byLabel[short].count)")
        }
        self.count = count
        self.seed = seed
        self.byLabel = byLabel
    }

    /// The demonstrations for `sample`, in the order they are shown.
    public func demonstrations(for sample: LogicSample, text: (LogicSample) throws -> String) rethrows -> [LogicSample] {
        var random = SeededRandom(key: [seed, Self.fnv1a(sample.id)])
        let options = byLabel.count
        var quota = [Int](repeating: count / options, count: options)
        var positions = Array(0..<options)
        random.shuffle(&positions)
        for position in positions.prefix(count % options) { quota[position] += 1 }
        let own = try text(sample)
        var chosen: [LogicSample] = []
        for label in 0..<options {
            var candidates = try byLabel[label].filter { try $0.id != sample.id && text($0) != own }
            for _ in 0..<min(quota[label], candidates.count) { chosen.append(random.take(from: &candidates)) }
        }
        random.shuffle(&chosen)
        return chosen
    }

    /// FNV-1a over the UTF-8 bytes: a stable key for a sample id.
    static func fnv1a(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01b3 }
    }
}

extension LogicSample {
    /// This sample solved, as a demonstration: its prompt followed by its right option.
    public func demonstration(with template: PromptTemplate?) throws(DatasetError) -> String {
        guard let label else { throw DatasetError("sample \(id)", "a demonstration needs a label") }
        return try promptText(with: template) + options[label]
    }
}
