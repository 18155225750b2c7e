import Foundation
import ModelFormats

/// A model's chat format, read from its Jinja chat template. Jinja itself is not implemented: the
/// ChatML family (`<|im_start|>role\ncontent<|im_end|>\n`, used by SmolLM2 and Qwen) is recognised
/// and rendered as Hugging Face's `apply_chat_template(..., add_generation_prompt=True)` renders it
/// for one user message, including the system message such templates add when there is none.
public struct ChatTemplate: Sendable, Equatable {
    /// The system message the template puts first when the conversation has none.
    public let defaultSystemMessage: String?
    /// The token that ends each turn.
    public static let endOfTurn = "<|im_end|>"

    /// Recognises `template`; `source` names where it came from, for the error.
    public init(template: String, source: String) throws {
        guard template.contains("<|im_start|>"), template.contains(Self.endOfTurn),
              template.contains("add_generation_prompt") else {
            throw TransformerError(source, "chat template not supported (only ChatML templates with <|im_start|> are)")
        }
        defaultSystemMessage = Self.literalSystemMessage(in: template)
    }

    /// The template in a GGUF file's `tokenizer.chat_template`, or in a model folder's
    /// `tokenizer_config.json` (`chat_template`, a string or a list of named templates).
    public init(model: OpenedModel) throws {
        let source: String, template: String?
        switch model.location {
        case .gguf(let url):
            source = url.path
            template = model.gguf?.string("tokenizer.chat_template")
        case .huggingFaceFolder(let url):
            let config = url.appendingPathComponent("tokenizer_config.json")
            source = config.path
            template = (try? RegularFile.contents(of: config))
                .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
                .flatMap { Self.templateEntry($0["chat_template"]) }
        }
        guard let template else { throw TransformerError(source, "the model has no chat template") }
        try self.init(template: template, source: source)
    }

    /// The prompt for one user message, ending where the assistant's answer begins.
    public func render(userMessage: String) -> String {
        var text = ""
        if let defaultSystemMessage { text += turn("system", defaultSystemMessage) }
        return text + turn("user", userMessage) + "<|im_start|>assistant\n"
    }

    private func turn(_ role: String, _ content: String) -> String {
        "<|im_start|>\(role)\n\(content)\(Self.endOfTurn)\n"
    }

    /// A system turn written out as one string literal (`'<|im_start|>system\n…<|im_end|>\n'`):
    /// the default system message. Turns built from `message['content']` are not literals.
    static func literalSystemMessage(in template: String) -> String? {
        for quote in ["'", "\""] {
            let opening = quote + "<|im_start|>system"
            var searchStart = template.startIndex
            while let open = template.range(of: opening, range: searchStart ..< template.endIndex) {
                searchStart = open.upperBound
                guard let close = template.range(of: quote, range: open.upperBound ..< template.endIndex) else { break }
                let literal = unescapeJinja(String(template[open.upperBound ..< close.lowerBound]))
                guard literal.hasPrefix("\n"), literal.hasSuffix(endOfTurn + "\n") else { continue }
                return String(literal.dropFirst().dropLast(endOfTurn.count + 1))
            }
        }
        return nil
    }

    /// The escapes of a Jinja string literal that chat templates use.
    private static func unescapeJinja(_ literal: String) -> String {
        var result = "", escaped = false
        for character in literal {
            if escaped {
                switch character {
                case "n": result.append("\n")
                case "t": result.append("\t")
                default: result.append(character)
                }
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                result.append(character)
            }
        }
        return result
    }

    private static func templateEntry(_ value: Any?) -> String? {
        if let template = value as? String { return template }
        let named = (value as? [[String: Any]]) ?? []
        return named.first { $0["name"] as? String == "default" }?["template"] as? String
    }
}
