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

    /// The stratum of a sample: label, steps, distractors and the source's groups (`keys`), one
    /// entry each ("?" where the sample has none).
    func stratum(_ sample: LogicSample, groupKeys keys: [String]) -> [String] {
        [sample.label.map { sample.options[$0] } ?? "unlabelled", sample.steps.map(String.init) ?? "?",
         sample.distractors.map(String.init) ?? "?"]
            + keys.map { key in
                switch sample.metadata[key] {
                case .string(let text), .number(let text): text
                default: "?"
                }
            }
    }

    /// A stratified random sample of `count` rows, in file order. The allocation is nested, so
    /// each level stays proportional even when `count` is smaller than the number of strata:
    /// `count` is shared among the labels in proportion to their rows, each label's share among
    /// its steps values, each of those among the distractor counts, then among the source's own
    /// groups (Multi-LogiEval's logic, PARARULE-Plus's QCat, the generator's family). At every
    /// level each group gets its proportional share rounded down and the rows left over go one
    /// each to the largest remainders, ties broken in a seeded random order (never in favour of
    /// the first groups); within a finest group the rows are shuffled and the first taken. One
    /// seeded stream drives it all, so the same seed gives the same rows on every machine.
    public func stratifiedSample(_ count: Int, seed: UInt64) -> (indices: [Int], selection: SampleSelection, warning: String?) {
        let groupKeys = Self.groupKeys.filter { key in samples.contains { $0.metadata[key] != nil } }
        let strataName = (["label", "steps", "distractors"] + groupKeys).joined(separator: " x ")
        guard count < samples.count else {
            return (Array(samples.indices), SampleSelection(method: "all", count: samples.count),
                    "--sample \(count) asks for at least all \(samples.count) samples; probing them all")
        }
        let strata = samples.map { stratum($0, groupKeys: groupKeys) }
        var random = SeededRandom(key: [seed, Self.samplingStream])
        let chosen = Self.allocate(count, among: Array(samples.indices), strata: strata, level: 0, random: &random)
        return (chosen.sorted(), SampleSelection(method: "stratified", count: count, seed: seed, strata: strataName), nil)
    }

    /// `count` of `rows`, shared among the groups of `strata[row][level]` by largest remainder,
    /// then recursively among the next level's groups.
    private static func allocate(_ count: Int, among rows: [Int], strata: [[String]], level: Int,
                                 random: inout SeededRandom) -> [Int] {
        guard count > 0 else { return [] }
        guard level < (strata.first?.count ?? 0) else {
            var shuffled = rows
            random.shuffle(&shuffled)
            return Array(shuffled.prefix(count))
        }
        let groups = Dictionary(grouping: rows) { strata[$0][level] }
        let names = groups.keys.sorted()
        let shares = names.map { Double(count) * Double(groups[$0]!.count) / Double(rows.count) }
        var quota = shares.map { Int($0.rounded(.down)) }
        var tieOrder = Array(names.indices)
        random.shuffle(&tieOrder)
        let order = tieOrder.enumerated().sorted { a, b in
            let (x, y) = (shares[a.element] - Double(quota[a.element]), shares[b.element] - Double(quota[b.element]))
            return x > y || (x == y && a.offset < b.offset)
        }.map(\.element)
        for index in order.prefix(count - quota.reduce(0, +)) { quota[index] += 1 }
        return names.indices.flatMap { index in
            allocate(quota[index], among: groups[names[index]]!, strata: strata, level: level + 1, random: &random)
        }
    }

    /// Keys the sampling stream apart from the generator's streams of the same seed.
    private static let samplingStream: UInt64 = 0x5341_4D50_4C45  // "SAMPLE"

    /// The rows a command runs: a stratified sample of `sample` rows drawn with `seed`, or else
    /// the first `limit` rows (every row without either).
    public func chosenRows(sample: Int?, limit: Int?, seed: UInt64) -> (indices: [Int], selection: SampleSelection, warning: String?) {
        sample.map { stratifiedSample($0, seed: seed) } ?? firstRows(limit)
    }

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
