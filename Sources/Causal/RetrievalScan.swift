import Tokenizers
import LogicTasks
import Transformer

/// Retrieval heads (Wu et al. 2024, "Retrieval Head Mechanistically Explains Long-Context
/// Factuality"): a needle sentence sits in a haystack; while the model decodes greedily, each
/// time it emits a token that occurs in the needle, a head copies it if its top-1 attention
/// (from the query that produced the token) lands on a needle position holding that token.
/// A head's score on one run is the share of the needle's tokens it copied (each distinct
/// needle position once); the scan averages runs.
public struct RetrievalScan: Sendable {
    public let model: Transformer

    public init(model: Transformer) {
        self.model = model
    }

    /// One run: what the model wrote, and per head the needle positions it copied.
    public struct Run: Sendable, Equatable {
        public let generated: [Int]
        /// [L·H]: copied needle positions per head.
        public let copied: [Set<Int>]
        public let needleLength: Int

        /// [L·H]: the share of the needle's tokens each head copied.
        public var scores: [Double] { copied.map { Double($0.count) / Double(needleLength) } }
    }

    /// Decodes greedily after `prompt` (up to `maxNewTokens`, or `stopTokens`), scoring heads
    /// against the needle at positions `needle` of the prompt.
    public func run(prompt: [Int], needle: Range<Int>, maxNewTokens: Int, stopTokens: Set<Int> = []) throws -> Run {
        let config = model.config
        guard !needle.isEmpty, needle.lowerBound >= 0, needle.upperBound <= prompt.count else {
            throw CausalError("the needle's positions \(needle) are not inside the prompt's \(prompt.count) tokens")
        }
        guard maxNewTokens >= 1 else { throw CausalError("retrieval needs at least one new token") }
        let hooks = Set((0 ..< config.nLayers).map { HookName(.pattern, layer: $0) })
        var copied = [Set<Int>](repeating: [], count: config.nLayers * config.nHeads)
        var generated: [Int] = []
        var cache = model.makeCache()
        var next = prompt
        while generated.count < maxNewTokens, cache.count + next.count <= config.contextLength {
            let query = cache.count + next.count - 1
            let pass = try model.forward(next, cache: &cache, logits: .last, capture: HookCapture(hooks, positions: [query]))
            let token = argmax(pass.logits.values)
            if stopTokens.contains(token) { break }
            generated.append(token)
            let needlePositions = needle.filter { prompt[$0] == token }
            if !needlePositions.isEmpty {
                for layer in 0 ..< config.nLayers {
                    let pattern = pass[HookName(.pattern, layer: layer)]!
                    for head in 0 ..< config.nHeads {
                        let weights = pattern.vector(at: query, head: head)!
                        let top = argmax(Array(weights))
                        if needlePositions.contains(top) { copied[layer * config.nHeads + head].insert(top) }
                    }
                }
            }
            next = [token]
        }
        return Run(generated: generated, copied: copied, needleLength: needle.count)
    }

    /// The first index of the largest value (as `torch.argmax`).
    private func argmax(_ values: [Float]) -> Int {
        var best = 0
        for index in values.indices where values[index] > values[best] { best = index }
        return best
    }
}

/// Haystack prompts with a needle: filler sentences made from word lists by a seeded stream,
/// the needle sentence inserted at a sentence boundary at a given depth, then a question that
/// asks the model to repeat it.
public struct NeedlePrompt: Sendable {
    public static let needle = " The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day."
    public static let question = "\nWhat is the best thing to do in San Francisco?\nAnswer:"

    /// The prompt's text, and the needle's UTF-8 byte range in it.
    public let text: String
    public let needleBytes: Range<Int>

    /// A haystack of `sentences` filler sentences with the needle after `depth` (0...1) of them.
    public init(sentences: Int, depth: Double, seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let subjects = ["The farmer", "A small child", "The old sailor", "Our neighbour", "The teacher", "A tired baker",
                        "The mayor", "An engineer", "The painter", "A quiet student"]
        let verbs = ["carried", "painted", "found", "repaired", "counted", "described", "cleaned", "sold", "moved", "watched"]
        let objects = ["a wooden chair", "the red boat", "some yellow apples", "an old map", "the garden fence",
                       "a heavy box", "the station clock", "three glass jars", "a paper kite", "the iron gate"]
        let endings = ["before noon", "in the rain", "near the river", "after dinner", "without a word",
                       "on Tuesday", "for the market", "with great care", "in the village", "at dawn"]
        func pick(_ words: [String]) -> String { words[random.below(words.count)] }
        let filler = (0 ..< sentences).map { _ in " \(pick(subjects)) \(pick(verbs)) \(pick(objects)) \(pick(endings))." }
        let insertAt = Int((Double(sentences) * min(max(depth, 0), 1)).rounded())
        let before = "Read the story and answer the question." + filler[..<insertAt].joined()
        let after = filler[insertAt...].joined()
        text = before + Self.needle + after + Self.question
        let start = before.utf8.count
        needleBytes = start ..< start + Self.needle.utf8.count
    }
}

/// One needle run of a retrieval scan: where, and what came of it.
public struct NeedleRun: Sendable {
    public let promptTokens: Int
    public let depth: Double
    public let needle: Range<Int>
    public let run: RetrievalScan.Run
}

extension RetrievalScan {
    /// Needle-in-a-haystack runs for every target prompt length (tokens) and depth, each haystack
    /// its own seeded filler; scores are the per-head shares averaged over runs.
    public func scan(tokenizer: Tokenizer, lengths: [Int], depths: [Double], seed: UInt64,
                     progress: (Int) -> Void = { _ in }) throws -> (scores: HeadScores, runs: [NeedleRun]) {
        let config = model.config
        guard !lengths.isEmpty, !depths.isEmpty else { throw CausalError("retrieval needs at least one length and one depth") }
        if let bad = depths.first(where: { !(0 ... 1).contains($0) }) { throw CausalError("depth \(bad) is outside 0...1") }
        // Tokens per filler sentence, from a 20-sentence haystack.
        let probe = NeedlePrompt(sentences: 20, depth: 0.5, seed: seed)
        let base = NeedlePrompt(sentences: 0, depth: 0.5, seed: seed)
        let perSentence = Double(tokenizer.encode(probe.text).count - tokenizer.encode(base.text).count) / 20
        let needleTokens = tokenizer.encode(NeedlePrompt.needle, addSpecialTokens: false).count
        var runs: [NeedleRun] = []
        var sums = [Double](repeating: 0, count: config.nLayers * config.nHeads)
        for (lengthIndex, length) in lengths.enumerated() {
            let baseTokens = tokenizer.encode(base.text).count
            guard length > baseTokens, length + needleTokens + 4 <= config.contextLength else {
                throw CausalError("a \(length)-token haystack does not fit: the needle and question take \(baseTokens) tokens, the model's context is \(config.contextLength)")
            }
            let sentences = max(0, Int((Double(length - baseTokens) / perSentence).rounded()))
            for (depthIndex, depth) in depths.enumerated() {
                let prompt = NeedlePrompt(sentences: sentences, depth: depth, seed: seed &+ UInt64(lengthIndex * 1000 + depthIndex))
                let encoding = tokenizer.encodeWithOffsets(prompt.text)
                let inside = encoding.offsets.indices.filter { index in
                    let range = encoding.offsets[index]
                    return !range.isEmpty && range.lowerBound >= prompt.needleBytes.lowerBound && range.upperBound <= prompt.needleBytes.upperBound
                }
                guard let first = inside.first, let last = inside.last else { throw CausalError("the needle has no tokens of its own") }
                let run = try self.run(prompt: encoding.ids, needle: first ..< last + 1, maxNewTokens: last + 1 - first + 4,
                                       stopTokens: Set([tokenizer.eosTokenID].compactMap { $0 }))
                for (index, score) in run.scores.enumerated() { sums[index] += score }
                runs.append(NeedleRun(promptTokens: encoding.ids.count, depth: depth, needle: first ..< last + 1, run: run))
                progress(runs.count)
            }
        }
        let scores = HeadScores(layers: config.nLayers, heads: config.nHeads, values: sums.map { $0 / Double(runs.count) }, count: runs.count)
        return (scores, runs)
    }
}
