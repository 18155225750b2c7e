import Foundation
import ModelFormats

/// One turn of a conversation.
public struct ChatMessage: Sendable, Equatable {
    public enum Role: String, Sendable { case system, user, assistant }
    public var role: Role
    public var content: String

    public init(_ role: Role, _ content: String) {
        self.role = role
        self.content = content
    }
}

/// A model's chat format, recognised from its Jinja chat template. Jinja itself is not
/// implemented: the known families are recognised by their markers and rendered as Hugging Face's
/// `apply_chat_template(messages, add_generation_prompt=True)` renders them; any other template is
/// refused by name.
///
/// | family | turn | generation prompt | content |
/// | --- | --- | --- | --- |
/// | ChatML (SmolLM2, Qwen2/2.5) | `<|im_start|>role\n…<|im_end|>\n` | `<|im_start|>assistant\n` | as is; the template's default system turn first |
/// | Llama 3 | `<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>`, BOS first | `<|start_header_id|>assistant<|end_header_id|>\n\n` | trimmed |
/// | Mistral | BOS, `[INST] user [/INST]`, `assistant</s>` | none | as is |
/// | Gemma | BOS, `<start_of_turn>role\n…<end_of_turn>\n` (assistant is "model") | `<start_of_turn>model\n` | trimmed |
public struct ChatTemplate: Sendable, Equatable {
    public enum Family: String, Sendable, CaseIterable {
        case chatML = "chatml", llama3, mistral, gemma
    }

    public let family: Family
    /// The system message the template puts first when the conversation has none (ChatML only).
    public let defaultSystemMessage: String?

    /// The token that ends each turn.
    public var endOfTurn: String {
        switch family {
        case .chatML: "<|im_end|>"
        case .llama3: "<|eot_id|>"
        case .mistral: "</s>"  // the EOS of Mistral's tokenizer
        case .gemma: "<end_of_turn>"
        }
    }

    /// Recognises `template`; `source` names where it came from, for the error.
    public init(template: String, source: String) throws {
        func refuse(_ what: String) -> TransformerError {
            TransformerError(source, "chat template not supported: \(what) (known: ChatML, Llama 3, Mistral, Gemma)")
        }
        if template.contains("<|im_start|>") && template.contains("<|im_end|>") {
            if template.contains("<think>") { throw refuse("Qwen3's ChatML with thinking") }
            guard template.contains("add_generation_prompt") else { throw refuse("a ChatML template without a generation prompt") }
            family = .chatML
            defaultSystemMessage = Self.literalSystemMessage(in: template)
        } else if template.contains("<|start_header_id|>") && template.contains("<|eot_id|>") {
            if template.contains("Cutting Knowledge Date") { throw refuse("Llama 3.1+ (dates and tools in the system turn)") }
            family = .llama3
            defaultSystemMessage = nil
        } else if template.contains("[INST]") && template.contains("[/INST]") {
            if template.contains("<<SYS>>") { throw refuse("Llama 2's [INST] <<SYS>> format") }
            if template.contains("[AVAILABLE_TOOLS]") || template.contains("[SYSTEM_PROMPT]") { throw refuse("Mistral's tool-calling format") }
            // Mistral's ends an assistant turn with EOS; an [INST] template without it is another format.
            guard template.contains("eos_token") else { throw refuse("an [INST] template that is not Mistral's") }
            family = .mistral
            defaultSystemMessage = nil
        } else if template.contains("<start_of_turn>") && template.contains("<end_of_turn>") {
            family = .gemma
            defaultSystemMessage = nil
        } else {
            throw refuse("its format is none of these")
        }
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

    /// A rendered conversation and where the last user message's content lies in it.
    public struct Rendering: Sendable, Equatable {
        public let text: String
        /// UTF-8 offset of the last user message's content (after any trimming) in `text`.
        public let lastUserContentUTF8Offset: Int
        /// UTF-8 bytes the template trimmed off the front of that content.
        public let lastUserContentTrimmedUTF8: Int
    }

    /// The conversation as `apply_chat_template(messages, add_generation_prompt=True)` renders it.
    /// `bosToken` and `eosToken` are the tokenizer's texts for them (Llama 3, Mistral and Gemma put
    /// BOS first; Mistral ends an assistant turn with EOS).
    public func render(_ messages: [ChatMessage], bosToken: String, eosToken: String) throws -> Rendering {
        func fail(_ problem: String) -> TransformerError { TransformerError("chat template (\(family.rawValue))", problem) }
        guard messages.last?.role == .user else { throw fail("the conversation must end with a user message") }
        if family == .mistral || family == .gemma {
            let turns = messages.filter { $0.role != .system }
            guard turns.count == messages.count else { throw fail("\(family.rawValue) templates have no system role") }
            for (index, message) in turns.enumerated() where (message.role == .user) != index.isMultiple(of: 2) {
                throw fail("roles must alternate user/assistant")
            }
        }
        var text = ""
        var userOffset = 0, trimmed = 0
        func append(_ prefix: String, _ content: String, _ suffix: String, trim: Bool, isUser: Bool) {
            text += prefix
            let body = trim ? content.trimmingCharacters(in: .whitespacesAndNewlines) : content
            if isUser {
                userOffset = text.utf8.count
                trimmed = trim ? Self.leadingWhitespaceUTF8(content) : 0
            }
            text += body + suffix
        }
        switch family {
        case .chatML:
            if messages.first?.role != .system, let defaultSystemMessage {
                text += "<|im_start|>system\n\(defaultSystemMessage)<|im_end|>\n"
            }
            for message in messages {
                append("<|im_start|>\(message.role.rawValue)\n", message.content, "<|im_end|>\n", trim: false, isUser: message.role == .user)
            }
            text += "<|im_start|>assistant\n"
        case .llama3:
            text += bosToken
            for message in messages {
                append("<|start_header_id|>\(message.role.rawValue)<|end_header_id|>\n\n", message.content, "<|eot_id|>",
                       trim: true, isUser: message.role == .user)
            }
            text += "<|start_header_id|>assistant<|end_header_id|>\n\n"
        case .mistral:
            text += bosToken
            for message in messages {
                if message.role == .user {
                    append("[INST] ", message.content, " [/INST]", trim: false, isUser: true)
                } else {
                    append("", message.content, eosToken, trim: false, isUser: false)
                }
            }
        case .gemma:
            text += bosToken
            for message in messages {
                let role = message.role == .assistant ? "model" : message.role.rawValue
                append("<start_of_turn>\(role)\n", message.content, "<end_of_turn>\n", trim: true, isUser: message.role == .user)
            }
            text += "<start_of_turn>model\n"
        }
        return Rendering(text: text, lastUserContentUTF8Offset: userOffset, lastUserContentTrimmedUTF8: trimmed)
    }

    /// The prompt for one user message, ending where the assistant's answer begins.
    public func render(userMessage: String, bosToken: String = "", eosToken: String = "") -> String {
        (try? render([ChatMessage(.user, userMessage)], bosToken: bosToken, eosToken: eosToken).text) ?? userMessage
    }

    private static func leadingWhitespaceUTF8(_ text: String) -> Int {
        text.prefix { $0.isWhitespace }.utf8.count
    }

    /// A system turn written out as one string literal (`'<|im_start|>system\n…<|im_end|>\n'`):
    /// the default system message. Turns built from `message['content']` are not literals.
    static func literalSystemMessage(in template: String) -> String? {
        let endOfTurn = "<|im_end|>"
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
