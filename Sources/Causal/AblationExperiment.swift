import LogicTasks
import Probe
import Transformer

/// A prompt with its answer options' token ids and, when known, the right option.
public struct AblationSample: Sendable {
    public let tokenIDs: [Int]
    public let optionIDs: [Int]
    /// Index of the right option; nil for an unlabelled sample (kept in the logits, left out of
    /// accuracy and logit differences).
    public let label: Int?

    public init(tokenIDs: [Int], optionIDs: [Int], label: Int?) {
        self.tokenIDs = tokenIDs
        self.optionIDs = optionIDs
        self.label = label
    }

    public init(_ prepared: PreparedSample, label: Int?) {
        self.init(tokenIDs: prepared.tokenIDs, optionIDs: prepared.optionIDs, label: label)
    }
}

/// Heads switched off on every sample of a dataset: the options' logits after the prompt with
/// and without them, and with as many random heads of the same layers switched off instead.
public struct AblationExperiment: Sendable {
    public let model: Transformer
    public let heads: [HeadID]
    public let method: AblationMethod
    /// Random head sets drawn, each as many heads per layer as `heads` has, none of `heads`.
    public let randomHeads: [[HeadID]]

    /// Checks the heads; draws `randomDraws` random sets with `seed`.
    public init(model: Transformer, heads: [HeadID], method: AblationMethod, randomDraws: Int = 0, seed: UInt64 = 0) throws {
        guard !heads.isEmpty else { throw CausalError("no heads to ablate") }
        guard Set(heads).count == heads.count else { throw CausalError("a head is listed twice: \(heads.map(\.name).joined(separator: ","))") }
        guard randomDraws >= 0 else { throw CausalError("--random-draws must be 0 or more") }
        _ = try HeadAblation(heads: heads, method: .zero, model: model)
        self.model = model
        self.heads = heads
        self.method = method
        randomHeads = try Self.drawRandomHeads(like: heads, headsPerLayer: model.config.nHeads, draws: randomDraws, seed: seed)
    }

    /// Per draw, for each layer of `heads`, as many distinct heads of that layer as `heads` has
    /// there, chosen uniformly among the layer's other heads (a partial Fisher-Yates shuffle of
    /// one SplitMix64 stream), listed in layer and head order.
    public static func drawRandomHeads(like heads: [HeadID], headsPerLayer: Int, draws: Int, seed: UInt64) throws -> [[HeadID]] {
        var perLayer: [Int: Set<Int>] = [:]
        for head in heads { perLayer[head.layer, default: []].insert(head.head) }
        for (layer, chosen) in perLayer where headsPerLayer - chosen.count < chosen.count {
            throw CausalError("layer \(layer) has \(chosen.count) of its \(headsPerLayer) heads chosen, too few others to draw as many at random")
        }
        var random = SplitMix64(seed: seed)
        return (0 ..< draws).map { _ in
            perLayer.keys.sorted().flatMap { layer -> [HeadID] in
                let chosen = perLayer[layer]!
                var pool = (0 ..< headsPerLayer).filter { !chosen.contains($0) }
                for index in 0 ..< chosen.count {
                    pool.swapAt(index, index + random.below(pool.count - index))
                }
                return pool.prefix(chosen.count).sorted().map { HeadID(layer: layer, head: $0) }
            }
        }
    }

    /// The layers whose `hook_z` means a mean ablation needs (those of `heads`, which random draws share).
    var layers: [Int] { Set(heads.map(\.layer)).sorted() }

    /// Runs every sample clean, then with the heads off, then with each random set off.
    /// `progress` is told each finished pass (the total is `passCount(samples:)`).
    public func run(_ samples: [AblationSample], progress: (Int) -> Void = { _ in }) throws -> AblationResult {
        let config = model.config
        for (index, sample) in samples.enumerated() {
            guard !sample.tokenIDs.isEmpty, sample.optionIDs.count >= 2 else {
                throw CausalError("sample \(index): needs a prompt and at least two options")
            }
            if let label = sample.label, !sample.optionIDs.indices.contains(label) {
                throw CausalError("sample \(index): label \(label) is not one of its \(sample.optionIDs.count) options")
            }
        }
        // The clean passes, which also sum hook_z over every prompt token for mean ablation.
        let zHooks: Set<HookName> = method == .mean ? Set(layers.map { HookName(.z, layer: $0) }) : []
        var zSums = [HookName: [Double]](uniqueKeysWithValues: zHooks.map { ($0, [Double](repeating: 0, count: config.nHeads * config.dHead)) })
        var tokenCount = 0
        var done = 0
        var clean: [[Float]] = []
        for sample in samples {
            var cache = model.makeCache()
            let pass = try model.forward(sample.tokenIDs, cache: &cache, logits: .last, vocabulary: sample.optionIDs,
                                         capture: HookCapture(zHooks))
            clean.append(pass.logits.values)
            for hook in zHooks {
                let activation = pass[hook]!
                let width = config.nHeads * config.dHead
                for row in 0 ..< activation.positions.count {
                    for i in 0 ..< width { zSums[hook]![i] += Double(activation.values[row * width + i]) }
                }
            }
            tokenCount += sample.tokenIDs.count
            done += 1
            progress(done)
        }
        var means: [HeadID: [Float]] = [:]
        if method == .mean {
            for layer in layers {
                let sums = zSums[HookName(.z, layer: layer)]!
                for head in 0 ..< config.nHeads {
                    means[HeadID(layer: layer, head: head)] =
                        (0 ..< config.dHead).map { Float(sums[head * config.dHead + $0] / Double(tokenCount)) }
                }
            }
        }
        // The named heads off, then each random draw off.
        var ablatedPasses: [[[Float]]] = []
        for set in [heads] + randomHeads {
            let ablation = try HeadAblation(heads: set, method: method, means: means, model: model)
            var logits: [[Float]] = []
            for sample in samples {
                var cache = model.makeCache()
                logits.append(try model.forward(sample.tokenIDs, cache: &cache, logits: .last, vocabulary: sample.optionIDs,
                                                edit: ablation.edit).logits.values)
                done += 1
                progress(done)
            }
            ablatedPasses.append(logits)
        }
        let named = ablatedPasses[0], random = Array(ablatedPasses.dropFirst())
        return AblationResult(heads: heads, method: method, randomHeads: randomHeads, labels: samples.map(\.label),
                              cleanLogits: clean, ablatedLogits: named, randomLogits: random, means: means)
    }

    /// Forward passes `run` makes: one clean, one ablated and one per random draw per sample.
    public func passCount(samples: Int) -> Int { samples * (2 + randomHeads.count) }
}

/// What an ablation run found. Logits are per sample, per option, in dataset order.
public struct AblationResult: Sendable {
    public let heads: [HeadID]
    public let method: AblationMethod
    public let randomHeads: [[HeadID]]
    public let labels: [Int?]
    public let cleanLogits: [[Float]]
    public let ablatedLogits: [[Float]]
    /// [draw][sample][option]
    public let randomLogits: [[[Float]]]
    /// The mean `hook_z` vectors used by a mean ablation (empty otherwise).
    public let means: [HeadID: [Float]]

    public var clean: ConditionSummary { ConditionSummary(logits: cleanLogits, labels: labels) }
    public var ablated: ConditionSummary { ConditionSummary(logits: ablatedLogits, labels: labels) }
    public var random: [ConditionSummary] { randomLogits.map { ConditionSummary(logits: $0, labels: labels) } }

    /// The ablation's effect on the same samples: the change in logit difference (ablated minus
    /// clean, with a paired interval) and McNemar's exact test on the answers that flip.
    public var change: PairedChange { PairedChange(clean: clean, ablated: ablated) }

    /// Where the named heads' ablation falls among the random draws: the share of draws (plus
    /// the named set itself, so never 0) whose accuracy is at most the named set's, and likewise
    /// for the mean logit difference. Small values: the named heads matter more than random ones.
    public var randomRank: (accuracy: Double, logitDifference: Double)? {
        guard !randomLogits.isEmpty, let named = ablated.accuracy, let namedDifference = ablated.logitDifference.mean else { return nil }
        let draws = random
        let atMost = draws.filter { ($0.accuracy ?? .infinity) <= named }.count
        let differenceAtMost = draws.filter { ($0.logitDifference.mean ?? .infinity) <= namedDifference }.count
        let total = Double(draws.count + 1)
        return (Double(atMost + 1) / total, Double(differenceAtMost + 1) / total)
    }
}

/// The right option's logit minus the best wrong one's; nil without a label.
public func rightMinusWrong(_ logits: [Float], label: Int?) -> Double? {
    guard let label, logits.indices.contains(label) else { return nil }
    let wrong = logits.indices.filter { $0 != label }.map { logits[$0] }.max() ?? -.infinity
    return Double(logits[label]) - Double(wrong)
}

/// The option the model picks: the highest logit, the first of equal ones.
public func chosenOption(_ logits: [Float]) -> Int {
    logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) } ?? 0
}

extension SplitMix64 {
    /// A uniform integer in 0..<bound, by rejection (no modulo bias).
    mutating func below(_ bound: Int) -> Int {
        let limit = UInt64(bound)
        let threshold = (0 &- limit) % limit
        while true {
            let value = next()
            if value >= threshold { return Int(value % limit) }
        }
    }
}
