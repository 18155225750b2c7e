import ArgumentParser
import Causal
import Foundation
import Pipeline
import Reports
import RunStore
import Transformer

extension ScanKind: ExpressibleByArgument {}

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Score every head by what it attends to: previous-token, induction, duplicate-token or retrieval heads.",
        discussion: """
            previous-token: mean attention from position i to i-1 (i >= 1). induction and duplicate-token: on \
            sequences [r, r] with |r| = n, mean attention from i in [n, 2n) to i-n+1 (induction) or i-n \
            (duplicate). Scores average every scored (sequence, position) pair. Sequences are random token ids \
            (--count, --length n, --seed; drawn from the tokens that are not special, no BOS) or --sequences \
            FILE.json, a list of lists of token ids used as they are.

            retrieval (Wu et al. 2024): a needle sentence in generated haystacks of --lengths tokens at --depths; \
            while the model decodes greedily, a head copies a needle token when the model emits it and the \
            head's top-1 attention lands on it in the needle. Score: the share of needle tokens copied, averaged \
            over runs.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "previous-token, induction, duplicate-token or retrieval.")
    var kind: ScanKind

    @Option(help: "A JSON file with a list of lists of token ids (default: random sequences).")
    var sequences: String?

    @Option(help: "Random sequences to make.")
    var count = 20

    @Option(help: "Length of a random sequence (for induction and duplicate-token: of r, repeated once).")
    var length = 40

    @Option(help: "Seed of the random sequences or haystacks.")
    var seed: UInt64 = 0

    @Option(help: "Retrieval: prompt lengths in tokens, comma-separated.")
    var lengths = "256,512"

    @Option(help: "Retrieval: needle depths in 0...1, comma-separated.")
    var depths = "0,0.25,0.5,0.75,1"

    @Option(name: [.short, .long], help: "Write the [L, H] scores to this HDF5 file.")
    var output: String?

    @Option(help: "Write a heatmap of the scores to this SVG file.")
    var svg: String?

    @Flag(help: "Replace existing output files.")
    var force = false

    @Option(help: #"table, or json ({"kind", "scores": L rows of H numbers, ...})."#)
    var format: OutputFormat = .table

    @Option(help: "Heads to list.")
    var top = 10


    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if length < 2 { throw ValidationError("--length must be at least 2") }
        if top < 1 { throw ValidationError("--top must be at least 1") }
        if kind == .retrieval, sequences != nil { throw ValidationError("--sequences is for the attention kinds, not retrieval") }
    }

    func run() throws {
        for path in [output, svg].compactMap({ $0 }) {
            if FileManager.default.fileExists(atPath: path) && !force { throw CausalError("\(path) exists; pass --force to replace it") }
            try OutputGuard.ensureNotAnInput(URL(fileURLWithPath: path), inputs: [URL(fileURLWithPath: try modelOptions.resolvedPath())]
                                             + (sequences.map { [URL(fileURLWithPath: $0)] } ?? []))
        }
        let given = try sequences.map(Self.readSequences)
        let loaded = try modelOptions.load()
        let config = loaded.transformer.config
        if let given, let bad = given.flatMap({ $0 }).first(where: { !(0 ..< config.vocabSize).contains($0) }) {
            throw CausalError("\(sequences!): token id \(bad) is outside the model's vocabulary 0..<\(config.vocabSize)")
        }
        var stored: [StoredDataset] = []
        let scores: HeadScores
        var detail: String
        if kind == .retrieval {
            let lengthList = try Self.numbers(lengths, "--lengths").map { Int($0) }
            let depthList = try Self.numbers(depths, "--depths")
            var progress = Progress(total: lengthList.count * depthList.count, alreadyDone: 0)
            let (found, runs) = try RetrievalScan(model: loaded.transformer).scan(
                tokenizer: loaded.tokenizer, lengths: lengthList, depths: depthList, seed: seed) { _ in progress.advance() }
            scores = found
            let copiedRuns = runs.filter { run in run.run.copied.contains { !$0.isEmpty } }.count
            detail = "\(runs.count) needle runs (prompt lengths \(lengthList.map(String.init).joined(separator: ",")) tokens, depths \(depths)); "
                + "runs with any copy: \(copiedRuns)"
            stored += [
                StoredDataset("/retrieval/prompt_tokens", shape: [runs.count], .int32(runs.map { Int32($0.promptTokens) }), dimensions: ["run"]),
                StoredDataset("/retrieval/depth", shape: [runs.count], .float64(runs.map(\.depth)), dimensions: ["run"]),
                StoredDataset("/retrieval/needle_tokens", shape: [runs.count], .int32(runs.map { Int32($0.needle.count) }), dimensions: ["run"]),
                StoredDataset("/retrieval/run_scores", shape: [runs.count, config.nLayers, config.nHeads],
                              .float64(runs.flatMap(\.run.scores)), dimensions: ["run", "layer", "head"]),
                StoredDataset("/retrieval/generated", shape: [runs.count], .strings(runs.map { loaded.tokenizer.decode($0.run.generated) }),
                              dimensions: ["run"]),
            ]
        } else {
            let used: [[Int]]
            if let given {
                used = given
            } else {
                let tokens = (0 ..< config.vocabSize).filter { !loaded.tokenizer.decode([$0], skipSpecialTokens: true).isEmpty }
                let made = try AttentionScan.repeatedRandomSequences(count: count, length: length, tokens: tokens, seed: seed)
                // Previous-token scores plain random sequences: the first half of each.
                used = kind == .previousToken ? made.map { Array($0.prefix(length)) } : made
            }
            var progress = Progress(total: used.count, alreadyDone: 0)
            scores = try AttentionScan(model: loaded.transformer).scores(kind, sequences: used) { _ in progress.advance() }
            detail = "\(used.count) sequences\(given == nil ? " of random tokens (seed \(seed))" : " from \(sequences!)"), \(scores.count) scored positions"
            if Set(used.map(\.count)).count == 1 {
                stored.append(StoredDataset("/sequences", shape: [used.count, used[0].count], .int32(used.flatMap { $0.map(Int32.init) }),
                                            dimensions: ["sequence", "position"]))
            }
        }
        stored.insert(StoredDataset("/scores", shape: [config.nLayers, config.nHeads], .float64(scores.values),
                                    dimensions: ["layer", "head"]), at: 0)
        if let output {
            try ResultFile.write(stored, to: URL(fileURLWithPath: output),
                                 attributes: ["kind": kind.rawValue, "model_path": loaded.path, "model_name": config.name,
                                              "seed": String(seed), "scored": String(scores.count)],
                                 overwrite: force)
        }
        let ranked = scores.ranked().prefix(top)
        if let svg {
            let map = ScoreHeatmap(title: "\(config.name): \(kind.rawValue) scores", subtitle: detail,
                                   layers: config.nLayers, heads: config.nHeads, values: scores.values)
            try Data(map.svg(top: top).utf8).write(to: URL(fileURLWithPath: svg))
        }
        switch format {
        case .json:
            let object: [String: Any] = [
                "kind": kind.rawValue, "model": loaded.path, "scored": scores.count, "detail": detail,
                "scores": scores.rows,
                "top": ranked.map { ["head": $0.head.name, "score": $0.score] as [String: Any] },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        case .table:
            print("\(kind.rawValue) scores of \(config.name): \(detail)")
            for (rank, entry) in ranked.enumerated() {
                print(String(format: "%3d  ", rank + 1) + entry.head.name.padding(toLength: 8, withPad: " ", startingAt: 0) + String(format: "  %.4f", entry.score))
            }
            for path in [output, svg].compactMap({ $0 }) { print("wrote \(path)") }
        }
    }

    /// A JSON list of lists of token ids; one-line errors naming the file.
    static func readSequences(_ path: String) throws -> [[Int]] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CausalError("\(path): cannot read it")
        }
        guard let list = try? JSONSerialization.jsonObject(with: data) as? [Any] else {
            throw CausalError("\(path): not a JSON list of lists of token ids")
        }
        guard !list.isEmpty else { throw CausalError("\(path): the list of sequences is empty") }
        return try list.enumerated().map { index, entry in
            guard let numbers = entry as? [NSNumber], !numbers.isEmpty,
                  numbers.allSatisfy({ $0.doubleValue >= 0 && $0.doubleValue < Double(Int32.max) && $0.doubleValue.rounded() == $0.doubleValue }) else {
                throw CausalError("\(path): sequence \(index) is not a non-empty list of non-negative integer token ids")
            }
            return numbers.map(\.intValue)
        }
    }

    static func numbers(_ text: String, _ option: String) throws -> [Double] {
        let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0?.isFinite == true }) else {
            throw CausalError("\(option) '\(text)' is not a comma-separated list of numbers")
        }
        return values.map { $0! }
    }
}
