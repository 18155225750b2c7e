import ArgumentParser
import Causal
import Foundation
import LogicTasks
import Pipeline
import Probe
import RunStore
import Transformer

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Run one forward pass and show chosen hooks, or store hooks over a whole dataset.",
        discussion: """
            Hooks are named as in TransformerLens (hook_embed, blocks.{l}.attn.hook_q, hook_k, hook_v, \
            hook_rot_q, hook_rot_k, hook_pattern, hook_z, blocks.{l}.hook_resid_pre/mid/post, hook_attn_out, \
            hook_mlp_out, ln_final.hook_normalized); '*' stands for any run of characters, as in \
            blocks.*.attn.hook_q. With --output each captured hook becomes a float32 dataset of that name \
            ([pos, head, d_head], [pos, d_model] or [head, query pos, key pos]) in an HDF5 file.

            With --dataset instead of --prompt, every sample's hooks at --positions (anchor, options, last, \
            any of them in that order, or all) go to --output, laid out as a run file is: created up front, \
            rows written into existing space, then each row's complete flag, so a killed trace keeps its \
            finished rows. /activations/<hook> is [sample, slot, ...] with named dimensions; the file's \
            layout is in Sources/RunStore/TraceFile.swift.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "The prompt text.")
    var prompt: String?

    @Option(name: .long, help: "Trace every sample of this dataset (a file or a folder) into --output.")
    var dataset: String?

    @Option(name: .customLong("dataset-format"), help: "With --dataset: its format; auto tells it from the content.")
    var datasetFormat: DatasetFormatChoice = .auto

    @Option(name: .long, help: "With --dataset: anchor,options,last (any of them, in order) or all.")
    var positions = "anchor,options,last"

    @Option(name: .long, help: "With --dataset: a template file with {context} and {question}.")
    var template: String?

    @OptionGroup var rowOptions: RowOptions

    @Option(help: "With --dataset: seed of --sample.")
    var seed: UInt64 = 0

    @Option(name: .customLong("max-mb"), help: "With --dataset: refuse traces larger than this many megabytes.")
    var maxMB = 4096

    @Flag(name: .long, help: "With --dataset: replace an existing output file.")
    var force = false

    @Option(name: .customLong("hook"), help: "A hook name or pattern to capture (repeatable).")
    var hooks: [String] = []

    @Option(name: .long, parsing: .unconditional, help: "How many of the most likely next tokens to show.")
    var topK = 10

    @Option(name: .long, help: "Write the captured hooks to this HDF5 file.")
    var output: String?

    @Option(help: #"table, or json for one object {"ids": [...], "top": [{"id", "token", "logit"}, ...]}."#)
    var format: OutputFormat = .table

    func validate() throws {
        if dataset != nil {
            if prompt != nil { throw ValidationError("--prompt and --dataset exclude each other") }
            if output == nil || hooks.isEmpty { throw ValidationError("--dataset needs --output and at least one --hook") }
            if maxMB < 1 { throw ValidationError("--max-mb must be at least 1") }
            return
        }
        guard let prompt else { throw ValidationError("give --prompt or --dataset") }
        guard !prompt.isEmpty else { throw ValidationError("--prompt is empty") }
        guard topK > 0 else { throw ValidationError("--top-k must be positive") }
        if output != nil, hooks.isEmpty { throw ValidationError("--output needs at least one --hook") }
    }

    func run() throws {
        if let dataset { return try traceDataset(dataset) }
        let prompt = prompt ?? ""
        if let output {
            try OutputGuard.ensureNotAnInput(URL(fileURLWithPath: output), inputs: [URL(fileURLWithPath: try modelOptions.resolvedPath())])
        }
        let loaded = try modelOptions.load()
        let transformer = loaded.transformer
        let ids = loaded.tokenizer.encode(prompt)
        let captured = try transformer.hooks(matching: hooks)
        let result = try transformer.forward(ids, logits: .last, capture: HookCapture(captured))
        let logits = result.logits.values
        let top = logits.indices.sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }.prefix(topK)
        let activations = result.activations.values.sorted { $0.hook < $1.hook }

        if let output {
            let config = transformer.config
            try ArrayFile.write(
                activations.map { NamedArray(name: $0.hook.description, shape: $0.shape, values: $0.values,
                                             integerAttributes: ["positions": $0.positions]) },
                to: URL(fileURLWithPath: output),
                stringAttributes: ["model_name": config.name, "model_path": loaded.path,
                                   "architecture": config.architecture.rawValue, "prompt": prompt],
                integerAttributes: ["token_ids": ids, "n_layers": [config.nLayers], "n_heads": [config.nHeads],
                                    "n_kv_heads": [config.nKVHeads], "d_head": [config.dHead]])
        }

        if format == .json {
            try printJSON([
                "ids": ids,
                "top": top.map { ["id": $0, "token": loaded.text(of: $0), "logit": Double(logits[$0])] as [String: Any] },
            ] as [String: Any])
            return
        }
        print("tokens (\(ids.count)):")
        for (position, id) in ids.enumerated() {
            print("  \(pad(position, 5))  \(pad(id, 6))  \(loaded.text(of: id).debugDescription)")
        }
        print("top \(top.count) next tokens:")
        for id in top {
            print("  \(pad(id, 6))  \(String(format: "%9.4f", logits[id]))  \(loaded.text(of: id).debugDescription)")
        }
        if !activations.isEmpty {
            print("captured \(activations.count) hooks\(output.map { " into \($0)" } ?? ""):")
            for activation in activations {
                print("  \(activation.hook)  \(activation.shape)")
            }
        }
    }

    /// `--dataset`: the hooks of every sample into a crash-safe trace file.
    private func traceDataset(_ dataset: String) throws {
        guard let output else { return }
        let datasetURL = URL(fileURLWithPath: dataset)
        let loadedDataset = try datasetFormat.resolve(for: datasetURL).load(datasetURL)
        let samples = rowOptions.samples(of: loadedDataset, from: datasetURL, seed: seed)
        let promptTemplate = try template.map { try PromptTemplate(contentsOf: URL(fileURLWithPath: $0)) }
        let tracePositions = try TracePositions(parsing: positions)
        try OutputGuard.ensureNotAnInput(URL(fileURLWithPath: output), inputs: [datasetURL, URL(fileURLWithPath: try modelOptions.resolvedPath())]
                                         + (template.map { [URL(fileURLWithPath: $0)] } ?? []))
        let loaded = try modelOptions.load()
        let trace = try DatasetTrace(model: loaded.transformer, hooks: try loaded.transformer.hooks(matching: hooks), positions: tracePositions)
        let prepared = try samples.map {
            try PreparedSample($0, template: promptTemplate, tokenizer: loaded.tokenizer, optionPolicy: .exact)
        }
        let config = loaded.transformer.config
        if let long = prepared.firstIndex(where: { $0.tokenIDs.count + $0.optionIDs.count > config.contextLength }) {
            throw ProbeError("sample \(samples[long].id): \(prepared[long].tokenIDs.count) tokens and its options exceed the model's context of \(config.contextLength)")
        }
        let slotNames = trace.slotNames(options: loadedDataset.options.count, maximumTokens: prepared.map(\.tokenIDs.count).max() ?? 0)
        let file = try TraceFile(
            creating: URL(fileURLWithPath: output), sampleIDs: samples.map(\.id), tokenIDs: prepared.map(\.tokenIDs),
            optionIDs: prepared.map(\.optionIDs), slotNames: slotNames, hooks: trace.tracedHooks,
            attributes: ["model_path": loaded.path, "model_name": config.name, "dataset": datasetURL.path,
                         "dataset_sha256": try datasetDigest(datasetURL), "positions": positions,
                         "hooks": trace.hooks.map(\.description).joined(separator: ","),
                         "template": promptTemplate?.text ?? PromptTemplate.defaultText],
            overwrite: force, maximumBytes: maxMB * 1_000_000)
        var progress = Progress(total: prepared.count, alreadyDone: 0)
        for (row, sample) in prepared.enumerated() {
            let traced = try trace.trace(sample, slotCount: slotNames.count)
            try file.write(row: row, tokenCount: sample.tokenIDs.count, slotPositions: traced.positions, values: traced.values)
            progress.advance()
        }
        print("wrote \(output): \(prepared.count) samples × \(slotNames.count) positions of \(trace.hooks.count) hooks")
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
