import LogicTasks
import Probe
import Transformer

/// What a scan scores heads on.
public enum ScanKind: String, CaseIterable, Sendable {
    /// Mean attention from position i to i - 1, over i ≥ 1.
    case previousToken = "previous-token"
    /// On [r, r] with |r| = n: mean attention from i in [n, 2n) to i - n + 1 (the token after
    /// the earlier copy of the current one).
    case induction
    /// On [r, r]: mean attention from i in [n, 2n) to i - n (the earlier copy itself).
    case duplicateToken = "duplicate-token"
    /// Wu et al. 2024: while the model copies a needle, how often a head's top attention lands
    /// on the needle token being copied.
    case retrieval
}

/// Per-head scores, [layers, heads] row-major.
public struct HeadScores: Sendable, Equatable {
    public let layers: Int
    public let heads: Int
    public let values: [Double]
    /// How many (sequence, position) pairs each score averages.
    public let count: Int

    public init(layers: Int, heads: Int, values: [Double], count: Int) {
        self.layers = layers
        self.heads = heads
        self.values = values
        self.count = count
    }

    public subscript(layer: Int, head: Int) -> Double { values[layer * heads + head] }

    /// Heads by score, highest first (lower layer, then head, on ties).
    public func ranked() -> [(head: HeadID, score: Double)] {
        values.indices.map { (head: HeadID(layer: $0 / heads, head: $0 % heads), score: values[$0]) }
            .sorted { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
    }

    /// L rows of H numbers.
    public var rows: [[Double]] { (0 ..< layers).map { Array(values[$0 * heads ..< ($0 + 1) * heads]) } }
}

/// Scores every head from attention patterns (`hook_pattern`, the softmax probabilities) over
/// token sequences. Scores average over every scored (sequence, position) pair pooled.
public struct AttentionScan: Sendable {
    public let model: Transformer

    public init(model: Transformer) {
        self.model = model
    }

    /// Random repeated sequences [r, r]: `count` of them, r of `length` token ids drawn uniformly
    /// (with replacement) from `tokens` by one SplitMix64 stream seeded with `seed`.
    public static func repeatedRandomSequences(count: Int, length: Int, tokens: [Int], seed: UInt64) throws -> [[Int]] {
        guard count >= 1, length >= 2 else { throw CausalError("need at least 1 sequence of at least 2 tokens (got \(count) of \(length))") }
        guard !tokens.isEmpty else { throw CausalError("no token ids to draw sequences from") }
        var random = SplitMix64(seed: seed)
        return (0 ..< count).map { _ in
            let half = (0 ..< length).map { _ in tokens[random.below(tokens.count)] }
            return half + half
        }
    }

    /// Scores `kind` (not retrieval) on `sequences`, used as they are. Induction and
    /// duplicate-token need each sequence to be [r, r] in length (even, at least 4 tokens; the
    /// halves' contents are the caller's business); previous-token needs 2 tokens.
    public func scores(_ kind: ScanKind, sequences: [[Int]], progress: (Int) -> Void = { _ in }) throws -> HeadScores {
        guard kind != .retrieval else { throw CausalError("retrieval scores come from RetrievalScan") }
        guard !sequences.isEmpty else { throw CausalError("no sequences to scan") }
        let config = model.config
        for (index, sequence) in sequences.enumerated() {
            if kind == .previousToken {
                guard sequence.count >= 2 else { throw CausalError("sequence \(index) has \(sequence.count) tokens; previous-token needs at least 2") }
            } else {
                guard sequence.count >= 4, sequence.count % 2 == 0 else {
                    throw CausalError("sequence \(index) has \(sequence.count) tokens; \(kind.rawValue) needs [r, r]: an even count of at least 4")
                }
            }
            guard sequence.count <= config.contextLength else {
                throw CausalError("sequence \(index) has \(sequence.count) tokens, over the model's context of \(config.contextLength)")
            }
        }
        let hooks = Set((0 ..< config.nLayers).map { HookName(.pattern, layer: $0) })
        var sums = [Double](repeating: 0, count: config.nLayers * config.nHeads)
        var count = 0
        for (index, sequence) in sequences.enumerated() {
            let length = sequence.count
            // (query, key) pairs to average.
            let pairs: [(Int, Int)]
            switch kind {
            case .previousToken: pairs = (1 ..< length).map { ($0, $0 - 1) }
            case .induction: pairs = (length / 2 ..< length).map { ($0, $0 - length / 2 + 1) }
            case .duplicateToken: pairs = (length / 2 ..< length).map { ($0, $0 - length / 2) }
            case .retrieval: pairs = []
            }
            let queries = Set(pairs.map(\.0))
            let pass = try model.forward(sequence, logits: .none, capture: HookCapture(hooks, positions: queries))
            for layer in 0 ..< config.nLayers {
                let pattern = pass[HookName(.pattern, layer: layer)]!
                for head in 0 ..< config.nHeads {
                    var sum = 0.0
                    for (query, key) in pairs {
                        let weights = pattern.vector(at: query, head: head)!
                        sum += Double(weights[weights.startIndex + key])
                    }
                    sums[layer * config.nHeads + head] += sum
                }
            }
            count += pairs.count
            progress(index + 1)
        }
        return HeadScores(layers: config.nLayers, heads: config.nHeads, values: sums.map { $0 / Double(count) }, count: count)
    }
}
