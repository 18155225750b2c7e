import ArgumentParser
import Foundation
import ModelFormats
import Tokenizers

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Show the tokens a model's tokenizer makes of a text.",
        discussion: """
            Prints one line per token: its position, id, vocabulary spelling (byte-level BPE writes a space as Ġ and a newline as Ċ; SentencePiece a space as ▁) \
            and the bytes of the text it covers. With --format json, prints one JSON object {"ids": [...], "tokens": [...]}.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "table, or json for one object with the ids and the tokens' vocabulary spellings.")
    var format: OutputFormat = .table

    @Flag(name: .long, help: "Do not add the special tokens the model adds around a text (such as BOS).")
    var noSpecial = false

    @Argument(help: "The text to tokenize.")
    var text: String

    func run() throws {
        let path = try modelOptions.resolvedPath()
        let tokenizer = try Tokenizer(modelPath: path)
        let (ids, offsets) = tokenizer.encodeWithOffsets(text, addSpecialTokens: !noSpecial)
        let tokens = ids.map { tokenizer.tokenString($0) ?? "" }
        if format == .json {
            try printJSON(["ids": ids, "tokens": tokens])
            return
        }
        let bytes = Array(text.utf8)
        let idWidth = max(2, String(tokenizer.vocabSize).count)
        for (position, (id, range)) in zip(ids, offsets).enumerated() {
            let covered = String(decoding: bytes[range], as: UTF8.self)
            let row = [pad(String(position), 5), pad(String(id), idWidth), pad(tokens[position].debugDescription, 20),
                       covered.debugDescription]
            print(row.joined(separator: "  "))
        }
        print("\(ids.count) tokens, \(tokenizer.kind), \(path)")
    }

    private func pad(_ field: String, _ width: Int) -> String {
        field.count >= width ? field : String(repeating: " ", count: width - field.count) + field
    }
}
