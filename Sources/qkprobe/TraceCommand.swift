import ArgumentParser
import Foundation
import Pipeline
import RunStore
import Transformer

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Run one forward pass: the prompt's tokens, the top next-token logits, and chosen hooks.",
        discussion: """
            Hooks are named as in TransformerLens (hook_embed, blocks.{l}.attn.hook_q, hook_k, hook_v, \
            hook_rot_q, hook_rot_k, hook_pattern, hook_z, blocks.{l}.hook_resid_pre/mid/post, hook_attn_out, \
            hook_mlp_out, ln_final.hook_normalized); '*' stands for any run of characters, as in \
            blocks.*.attn.hook_q. With --output each captured hook becomes a float32 dataset of that name \
            ([pos, head, d_head], [pos, d_model] or [head, query pos, key pos]) in an HDF5 file.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "The prompt text.")
    var prompt: String

    @Option(name: .customLong("hook"), help: "A hook name or pattern to capture (repeatable).")
    var hooks: [String] = []

    @Option(name: .long, parsing: .unconditional, help: "How many of the most likely next tokens to show.")
    var topK = 10

    @Option(name: .long, help: "Write the captured hooks to this HDF5 file.")
    var output: String?

    @Option(help: #"table, or json for one object {"ids": [...], "top": [{"id", "token", "logit"}, ...]}."#)
    var format: OutputFormat = .table

    func validate() throws {
        guard !prompt.isEmpty else { throw ValidationError("--prompt is empty") }
        guard topK > 0 else { throw ValidationError("--top-k must be positive") }
        if output != nil, hooks.isEmpty { throw ValidationError("--output needs at least one --hook") }
    }

    func run() throws {
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

    private func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
