import ArgumentParser
import Foundation
import Pipeline
import Transformer

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt with greedy decoding.",
        discussion: """
            Prints the continuation as it is decoded, until --max-tokens tokens or the end-of-sequence token. \
            With --chat the prompt is sent as one user message in the model's chat format (ChatML templates, \
            e.g. SmolLM2 and Qwen, with the system message the template adds by default).
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "The prompt text.")
    var prompt: String

    @Option(name: .long, parsing: .unconditional, help: "The most tokens to generate.")
    var maxTokens = 64

    @Flag(name: .long, help: "Apply the model's chat template to the prompt.")
    var chat = false

    func validate() throws {
        guard !prompt.isEmpty else { throw ValidationError("--prompt is empty") }
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive") }
    }

    func run() throws {
        let loaded = try modelOptions.load()
        let tokenizer = loaded.tokenizer
        var stopTokens = Set([tokenizer.eosTokenID].compactMap { $0 })
        let ids: [Int]
        if chat {
            let template = try ChatTemplate(model: loaded.opened)
            // HF's apply_chat_template tokenizes the rendered text without adding special tokens.
            let bos = tokenizer.bosTokenID.flatMap(tokenizer.tokenString) ?? ""
            let eos = tokenizer.eosTokenID.flatMap(tokenizer.tokenString) ?? ""
            ids = tokenizer.encode(template.render(userMessage: prompt, bosToken: bos, eosToken: eos), addSpecialTokens: false)
            if let endOfTurn = tokenizer.id(forToken: template.endOfTurn) { stopTokens.insert(endOfTurn) }
        } else {
            ids = tokenizer.encode(prompt)
        }

        var generated: [Int] = []
        var printed = ""
        _ = try loaded.transformer.generate(prompt: ids, maxNewTokens: maxTokens, stopTokens: stopTokens) { token in
            generated.append(token)
            // Print what is new once its bytes form whole characters.
            let text = tokenizer.decode(generated, skipSpecialTokens: true)
            guard !text.hasSuffix("\u{FFFD}"), text.hasPrefix(printed) else { return }
            print(text.dropFirst(printed.count), terminator: "")
            fflush(nil)  // every stream: stdout itself is not concurrency-safe to name
            printed = text
        }
        let text = tokenizer.decode(generated, skipSpecialTokens: true)
        print(text.hasPrefix(printed) ? text.dropFirst(printed.count) : "")
    }
}
