import Foundation

/// Which token's key the QK-score reads: the anchor.
public enum AnchorRule: String, Sendable, CaseIterable, Codable {
    /// The token immediately before the answer cue (the paper's "last token before the word
    /// 'Answer:'"; after "...furry.\nAnswer:" that is the newline). A token that holds part of
    /// the cue (a tokenizer that merges "\nAnswer") belongs to the cue: the anchor is the token
    /// before it.
    case beforeCue = "before-cue"
    /// The token that ends the question text: the one holding its last non-whitespace byte before
    /// the cue (after "...furry.\nAnswer:" the "."), even when it runs on into the cue.
    case questionEnd = "question-end"
    /// The token holding the byte just before the template's `{anchor}` mark.
    case marked
}

/// The text after which the model gives its answer.
public enum AnswerCue {
    public static let `default` = "Answer:"
}

/// A prompt ready for the tokenizer, with the places the anchor rules need (UTF-8 byte offsets).
public struct RenderedPrompt: Sendable, Equatable {
    public let text: String
    /// Where the final occurrence of the answer cue starts.
    public let cueUTF8Offset: Int
    /// Just after the last non-whitespace character before the cue.
    public let questionEndUTF8Offset: Int
    /// Where the template's `{anchor}` mark was; nil without one.
    public let markUTF8Offset: Int?
    public let options: [String]

    /// The byte offset a rule anchors on, and whether a token that runs across it still counts
    /// (it does for the question end and the mark, not for the cue: that token is the cue's).
    public func anchorPlace(_ rule: AnchorRule) -> (offset: Int, tokenMayCross: Bool)? {
        switch rule {
        case .beforeCue: return (offset: cueUTF8Offset, tokenMayCross: false)
        case .questionEnd: return (offset: questionEndUTF8Offset, tokenMayCross: true)
        case .marked:
            guard let mark = markUTF8Offset else { return nil }
            return (offset: mark, tokenMayCross: true)
        }
    }
}

/// Turns a sample's context and question into prompt text.
///
/// Syntax: `{context}` and `{question}` are replaced; `{anchor}` marks the anchor (it renders as
/// nothing; the anchor is the token holding the byte before it); `{{` and `}}` stand for literal
/// braces; any other `{name}` is an error. `{question}` appears once, `{context}` and `{anchor}`
/// at most once, and the text after `{question}` contains the answer cue (the anchor is found
/// before its final occurrence).
public struct PromptTemplate: Sendable, Equatable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case context
        case question
        case anchor
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

    public init(text: String, source: String = "template", cue: String = AnswerCue.default) throws(DatasetError) {
        self.text = text
        segments = try PromptTemplate.parse(text, source: source)
        guard segments.filter({ $0 == .question }).count == 1 else {
            throw DatasetError(source, "the template needs {question} exactly once")
        }
        guard segments.filter({ $0 == .context }).count <= 1 else {
            throw DatasetError(source, "the template has {context} more than once")
        }
        guard segments.filter({ $0 == .anchor }).count <= 1 else {
            throw DatasetError(source, "the template has {anchor} more than once")
        }
        let afterQuestion = segments.drop { $0 != .question }.dropFirst()
        guard afterQuestion.contains(where: { if case .literal(let text) = $0 { text.contains(cue) } else { false } }) else {
            throw DatasetError(source, "the template needs the answer cue \(quoted(cue)) after {question} (the anchor is found before it; see --answer-cue)")
        }
    }

    /// Reads a template file; one trailing newline (which editors add) is dropped.
    public init(contentsOf url: URL, cue: String = AnswerCue.default) throws(DatasetError) {
        guard let text = String(bytes: try InputFile.bytes(of: url), encoding: .utf8) else {
            throw DatasetError(url.path, "the template is not UTF-8 text")
        }
        var trimmed = Substring(text)
        if trimmed.hasSuffix("\r\n") { trimmed = trimmed.dropLast(2) } else if trimmed.hasSuffix("\n") { trimmed = trimmed.dropLast() }
        try self.init(text: String(trimmed), source: url.path, cue: cue)
    }

    /// Whether the template marks the anchor with `{anchor}`.
    public var marksAnchor: Bool { segments.contains(.anchor) }

    public func render(context: String, question: String) -> String {
        renderMarked(context: context, question: question).text
    }

    /// The text and the UTF-8 offset of the `{anchor}` mark, if any.
    func renderMarked(context: String, question: String) -> (text: String, mark: Int?) {
        var text = ""
        var mark: Int?
        for segment in segments {
            switch segment {
            case .literal(let literal): text += literal
            case .context: text += context
            case .question: text += question
            case .anchor: mark = text.utf8.count
            }
        }
        return (text, mark)
    }

    /// The places of the anchor rules in any prompt text: the start of the final cue, and the
    /// end of the text before it, trailing whitespace excluded.
    static func cuePlaces(in text: String, cue: String) throws(AnchorError) -> (cue: Int, questionEnd: Int) {
        guard !cue.isEmpty, let found = text.range(of: cue, options: .backwards) else { throw .noCue(cue) }
        let before = text[..<found.lowerBound]
        guard let last = before.lastIndex(where: { !$0.isWhitespace }) else { throw .nothingBeforeCue(cue) }
        return (before.utf8.count, before[...last].utf8.count)
    }

    enum AnchorError: Error {
        case noCue(String), nothingBeforeCue(String)

        var reason: String {
            switch self {
            case .noCue(let cue): "the prompt has no answer cue \(quoted(cue)) (the anchor is found before its final occurrence; see --answer-cue)"
            case .nothingBeforeCue(let cue): "the prompt has no text before its final \(quoted(cue))"
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
                case "anchor": segments.append(.literal(literal)); segments.append(.anchor)
                default:
                    throw DatasetError(source, "unknown placeholder {\(name)} in the template; known: {context}, {question}, {anchor}")
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
    /// The prompt text for this sample. Without a template, a plain `prompt` is used as is and a
    /// structured sample gets the default template; with one, the sample must have a context and
    /// a question (a plain prompt cannot be re-rendered).
    public func promptText(with template: PromptTemplate? = nil) throws(DatasetError) -> String {
        try renderedText(with: template).text
    }

    private func renderedText(with template: PromptTemplate?) throws(DatasetError) -> (text: String, mark: Int?) {
        if template == nil, let prompt {
            return (prompt, nil)
        } else if let context, let question {
            return (template ?? .default).renderMarked(context: context, question: question)
        } else if template == nil {
            throw DatasetError("sample \(id)", "the sample has neither a prompt nor a context and a question")
        } else {
            throw DatasetError("sample \(id)", "a template needs the sample's context and question, and this sample has a plain prompt only")
        }
    }

    /// The prompt for this sample with the places of its anchor, found before the final `cue`.
    public func rendered(with template: PromptTemplate? = nil, cue: String = AnswerCue.default) throws(DatasetError) -> RenderedPrompt {
        let (text, mark) = try renderedText(with: template)
        let places: (cue: Int, questionEnd: Int)
        do {
            places = try PromptTemplate.cuePlaces(in: text, cue: cue)
        } catch {
            throw DatasetError("sample \(id)", error.reason)
        }
        if let mark, mark > places.cue {
            throw DatasetError("sample \(id)", "the template's {anchor} comes after the answer cue \(quoted(cue))")
        }
        return RenderedPrompt(text: text, cueUTF8Offset: places.cue, questionEndUTF8Offset: places.questionEnd,
                              markUTF8Offset: mark, options: options)
    }
}

extension RenderedPrompt {
    /// This prompt after `prefix` (demonstrations), every place moved with it.
    public func prefixed(with prefix: String) -> RenderedPrompt {
        let shift = prefix.utf8.count
        return RenderedPrompt(text: prefix + text, cueUTF8Offset: cueUTF8Offset + shift,
                              questionEndUTF8Offset: questionEndUTF8Offset + shift,
                              markUTF8Offset: markUTF8Offset.map { $0 + shift }, options: options)
    }

    /// This prompt placed at `utf8Offset` of `text` (a chat template around it), of which the
    /// template trimmed `trimmedUTF8` leading bytes.
    public func embedded(in text: String, at utf8Offset: Int, trimmedUTF8: Int) -> RenderedPrompt {
        func move(_ offset: Int) -> Int { utf8Offset + max(0, offset - trimmedUTF8) }
        return RenderedPrompt(text: text, cueUTF8Offset: move(cueUTF8Offset), questionEndUTF8Offset: move(questionEndUTF8Offset),
                              markUTF8Offset: markUTF8Offset.map(move), options: options)
    }
}
