import Foundation

/// A prompt ready for the tokenizer, with the place of the anchor.
public struct RenderedPrompt: Sendable, Equatable {
    public let text: String
    /// UTF-8 byte offset just after the last non-whitespace character before the final "Answer".
    /// The anchor token is the token that covers the byte just before this offset.
    public let anchorUTF8Offset: Int
    public let options: [String]
}

/// Turns a sample's context and question into prompt text.
///
/// Syntax: `{context}` and `{question}` are replaced; `{{` and `}}` stand for literal braces; any
/// other `{name}` is an error. `{question}` appears once, `{context}` at most once, and the text
/// after `{question}` contains the word "Answer" (the anchor is found before the final one).
public struct PromptTemplate: Sendable, Equatable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case context
        case question
    }

    public static let defaultText = "{context}\nQuestion: {question}\nAnswer:"
    public static let `default` = PromptTemplate(
        text: defaultText, segments: [.context, .literal("\nQuestion: "), .question, .literal("\nAnswer:")])

    /// The template as written, for the run file's `template` attribute.
    public let text: String
    let segments: [Segment]

    private init(text: String, segments: [Segment]) {
        self.text = text
        self.segments = segments
    }

    public init(text: String, source: String = "template") throws(DatasetError) {
        self.text = text
        segments = try PromptTemplate.parse(text, source: source)
        guard segments.filter({ $0 == .question }).count == 1 else {
            throw DatasetError(source, "the template needs {question} exactly once")
        }
        guard segments.filter({ $0 == .context }).count <= 1 else {
            throw DatasetError(source, "the template has {context} more than once")
        }
        let afterQuestion = segments.drop { $0 != .question }.dropFirst()
        guard afterQuestion.contains(where: { if case .literal(let text) = $0 { text.contains("Answer") } else { false } }) else {
            throw DatasetError(source, "the template needs the word \"Answer\" after {question} (the anchor is the token before it)")
        }
    }

    /// Reads a template file; one trailing newline (which editors add) is dropped.
    public init(contentsOf url: URL) throws(DatasetError) {
        guard let text = String(bytes: try InputFile.bytes(of: url), encoding: .utf8) else {
            throw DatasetError(url.path, "the template is not UTF-8 text")
        }
        var trimmed = Substring(text)
        if trimmed.hasSuffix("\r\n") { trimmed = trimmed.dropLast(2) } else if trimmed.hasSuffix("\n") { trimmed = trimmed.dropLast() }
        try self.init(text: String(trimmed), source: url.path)
    }

    public func render(context: String, question: String) -> String {
        var text = ""
        for segment in segments {
            switch segment {
            case .literal(let literal): text += literal
            case .context: text += context
            case .question: text += question
            }
        }
        return text
    }

    /// The anchor rule for any prompt text: the end of the text before the final "Answer",
    /// trailing whitespace excluded.
    static func anchorOffset(in text: String) throws(AnchorError) -> Int {
        guard let answer = text.range(of: "Answer", options: .backwards) else { throw .noAnswer }
        let before = text[..<answer.lowerBound]
        guard let last = before.lastIndex(where: { !$0.isWhitespace }) else { throw .nothingBeforeAnswer }
        return before[...last].utf8.count
    }

    enum AnchorError: Error {
        case noAnswer, nothingBeforeAnswer

        var reason: String {
            switch self {
            case .noAnswer: "the prompt has no \"Answer\" (the anchor is the token before the final one)"
            case .nothingBeforeAnswer: "the prompt has no text before its final \"Answer\""
            }
        }
    }

    private static func parse(_ text: String, source: String) throws(DatasetError) -> [Segment] {
        var segments: [Segment] = []
        var literal = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            if character == "{" || character == "}" {
                if next < text.endIndex && text[next] == character {  // {{ or }}
                    literal.append(character)
                    index = text.index(after: next)
                    continue
                }
                guard character == "{" else {
                    throw DatasetError(source, "a single '}' in the template (write '}}' for a literal brace)")
                }
                guard let close = text[next...].firstIndex(of: "}") else {
                    throw DatasetError(source, "a '{' in the template is never closed (write '{{' for a literal brace)")
                }
                let name = text[next..<close]
                switch name {
                case "context": segments.append(.literal(literal)); segments.append(.context)
                case "question": segments.append(.literal(literal)); segments.append(.question)
                default:
                    throw DatasetError(source, "unknown placeholder {\(name)} in the template; known: {context}, {question}")
                }
                literal = ""
                index = text.index(after: close)
                continue
            }
            literal.append(character)
            index = next
        }
        segments.append(.literal(literal))
        return segments.filter { $0 != .literal("") }
    }
}

extension LogicSample {
    /// The prompt for this sample. Without a template, a plain `prompt` is used as is and a
    /// structured sample gets the default template; with one, the sample must have a context and
    /// a question (a plain prompt cannot be re-rendered).
    public func rendered(with template: PromptTemplate? = nil) throws(DatasetError) -> RenderedPrompt {
        let text: String
        if template == nil, let prompt {
            text = prompt
        } else if let context, let question {
            text = (template ?? .default).render(context: context, question: question)
        } else if template == nil {
            throw DatasetError("sample \(id)", "the sample has neither a prompt nor a context and a question")
        } else {
            throw DatasetError("sample \(id)", "a template needs the sample's context and question, and this sample has a plain prompt only")
        }
        do {
            return RenderedPrompt(text: text, anchorUTF8Offset: try PromptTemplate.anchorOffset(in: text), options: options)
        } catch {
            throw DatasetError("sample \(id)", error.reason)
        }
    }
}
