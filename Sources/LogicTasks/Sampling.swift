/// Which rows of a dataset a run probes, as recorded in the run file.
public struct SampleSelection: Sendable, Equatable {
    /// "all", "first" (`--limit`) or "stratified" (`--sample`).
    public var method: String
    public var count: Int
    /// The seed of a stratified sample; nil otherwise.
    public var seed: UInt64?
    /// What the strata are made of, e.g. "label x steps x distractors x QCat".
    public var strata: String

    public init(method: String, count: Int, seed: UInt64? = nil, strata: String = "") {
        self.method = method
        self.count = count
        self.seed = seed
        self.strata = strata
    }

    /// One line for the run file and reports.
    public var summary: String {
        switch method {
        case "stratified": "stratified sample of \(count) over \(strata), seed \(seed ?? 0)"
        case "first": "the first \(count) rows"
        default: "all \(count) rows"
        }
    }
}

extension LogicDataset {
    /// The metadata key that names a source's own groups of problems, where it has one:
    /// Multi-LogiEval's logic (propositional, first-order, non-monotonic), PARARULE-Plus's
    /// question category, the generator's family.
    static let groupKeys = ["logic", "QCat", "family"]

    /// The metadata keys whose values make a sample's source group (`LogicSample.sourceGroup`).
    static let sourceGroupKeys = ["logic", "rule", "QCat", "family"]

    /// The stratum of a sample: label, steps, distractors and the source's group.
    func stratum(_ sample: LogicSample) -> [String] {
        [sample.label.map { options[$0] } ?? "unlabelled", sample.steps.map(String.init) ?? "?",
         sample.distractors.map(String.init) ?? "?"]
            + Self.groupKeys.compactMap { sample.metadata[$0]?.stringValue }
    }

    /// A stratified random sample of `count` rows, in file order: the rows are grouped by label ×
    /// steps × distractors (× the source's own group: Multi-LogiEval's logic, PARARULE-Plus's
    /// QCat, the generator's family), each stratum gets its proportional share of `count` rounded
    /// down, and the rows left over go one each to the strata with the largest remainders, ties
    /// broken in a seeded random order (not in favour of the first strata). Each stratum's rows
    /// are then shuffled and its first rows taken. One seeded stream drives it all, so the same
    /// seed gives the same rows on every machine.
    public func stratifiedSample(_ count: Int, seed: UInt64) -> (indices: [Int], selection: SampleSelection, warning: String?) {
        let groupKeys = Self.groupKeys.filter { key in samples.contains { $0.metadata[key] != nil } }
        let strataName = (["label", "steps", "distractors"] + groupKeys).joined(separator: " x ")
        guard count < samples.count else {
            return (Array(samples.indices), SampleSelection(method: "all", count: samples.count),
                    "--sample \(count) asks for at least all \(samples.count) samples; probing them all")
        }
        let byStratum = Dictionary(grouping: samples.indices) { stratum(samples[$0]) }
        let keys = byStratum.keys.sorted { $0.lexicographicallyPrecedes($1) }
        let total = Double(samples.count)
        var quota = keys.map { Int((Double(count) * Double(byStratum[$0]!.count) / total).rounded(.down)) }
        let remainders = keys.indices.map { Double(count) * Double(byStratum[keys[$0]]!.count) / total - Double(quota[$0]) }
        var random = SeededRandom(key: [seed, Self.samplingStream])
        var tieOrder = Array(keys.indices)
        random.shuffle(&tieOrder)
        let order = tieOrder.enumerated().sorted { a, b in
            remainders[a.element] > remainders[b.element] || (remainders[a.element] == remainders[b.element] && a.offset < b.offset)
        }.map(\.element)
        for index in order.prefix(count - quota.reduce(0, +)) { quota[index] += 1 }
        var chosen: [Int] = []
        for (index, key) in keys.enumerated() {
            var rows = byStratum[key]!
            random.shuffle(&rows)
            chosen += rows.prefix(quota[index])
        }
        return (chosen.sorted(), SampleSelection(method: "stratified", count: count, seed: seed, strata: strataName), nil)
    }

    /// Keys the sampling stream apart from the generator's streams of the same seed.
    private static let samplingStream: UInt64 = 0x5341_4D50_4C45  // "SAMPLE"

    /// The first `limit` rows (all without a limit), with a warning when the rows kept all carry
    /// one label while the dataset has several: every head that always gives that answer would
    /// then look perfect.
    public func firstRows(_ limit: Int?) -> (indices: [Int], selection: SampleSelection, warning: String?) {
        guard let limit, limit < samples.count else {
            return (Array(samples.indices), SampleSelection(method: "all", count: samples.count), nil)
        }
        let kept = samples.prefix(limit).compactMap(\.label)
        let labels = Set(kept), all = Set(samples.compactMap(\.label))
        var warning: String?
        if labels.count == 1, all.count > 1, let only = labels.first {
            warning = "the first \(limit) samples all have the label \(quoted(options[only])) (the dataset has "
                + "\(all.count) labels); accuracy will reward heads that always answer it. Use --sample \(limit) "
                + "for a stratified sample"
        }
        return (Array(0..<limit), SampleSelection(method: "first", count: limit), warning)
    }
}

extension LogicSample {
    /// The source's own group of this problem, as "key=value" pairs: Multi-LogiEval's logic and
    /// rule ("logic=fol rule=mp"), PARARULE-Plus's question category ("QCat=0"), the generator's
    /// family ("family=ontology"); empty when the source gives none. `heads --by group` uses it.
    public var sourceGroup: String {
        LogicDataset.sourceGroupKeys.compactMap { key in
            switch metadata[key] {
            case .string(let text), .number(let text): "\(key)=\(text)"
            default: nil
            }
        }.joined(separator: " ")
    }
}
