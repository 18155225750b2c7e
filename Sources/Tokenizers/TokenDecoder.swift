import Foundation

/// How tokens become text again, as Hugging Face's decoders do it.
enum TokenDecoder: Sendable, Equatable {
    /// `ByteLevel`: the tokens spell bytes; bytes that are not valid UTF-8 become U+FFFD.
    case byteLevel
    /// A `Sequence` of string steps, as SentencePiece-style tokenizers have:
    /// [Replace("▁", " "), ByteFallback, Fuse, Strip(" ", 1, 0)].
    case steps([DecoderStep])

    /// Llama 2's and Mistral's decoder, which transformers also gives GGUF "llama" tokenizers.
    static let sentencePiece = TokenDecoder.steps([
        .replace(pattern: String(PreTokenizer.metaspace), content: " "), .byteFallback, .fuse,
        .strip(content: " ", start: 1, stop: 0),
    ])

    /// Gemma's: the same without the strip (its tokenizer prepends no "▁").
    static let gemma = TokenDecoder.steps([
        .replace(pattern: String(PreTokenizer.metaspace), content: " "), .byteFallback, .fuse,
    ])

    func decode(_ tokens: [String]) -> String {
        switch self {
        case .byteLevel:
            return String(decoding: tokens.flatMap(ByteLevel.bytes), as: UTF8.self)
        case .steps(let steps):
            return steps.reduce(tokens) { tokens, step in step.apply(tokens) }.joined()
        }
    }
}

/// One step of a decoder `Sequence`; each maps the list of token strings to a new list.
enum DecoderStep: Sendable, Equatable {
    case replace(pattern: String, content: String)
    /// Runs of `<0xNN>` tokens become the text of their bytes; a run that is not valid UTF-8 becomes
    /// one U+FFFD per byte.
    case byteFallback
    /// All tokens joined into one.
    case fuse
    /// Each token loses up to `start` leading and `stop` trailing `content` characters.
    case strip(content: Unicode.Scalar, start: Int, stop: Int)

    func apply(_ tokens: [String]) -> [String] {
        switch self {
        case .replace(let pattern, let content):
            return tokens.map { $0.replacingOccurrences(of: pattern, with: content, options: .literal) }
        case .byteFallback:
            var result: [String] = []
            var bytes: [UInt8] = []
            func flush() {
                guard !bytes.isEmpty else { return }
                if let text = String(validating: bytes, as: UTF8.self) {
                    result.append(text)
                } else {
                    result += Array(repeating: "\u{FFFD}", count: bytes.count)
                }
                bytes.removeAll()
            }
            for token in tokens {
                if let byte = Self.byte(spelledBy: token) {
                    bytes.append(byte)
                } else {
                    flush()
                    result.append(token)
                }
            }
            flush()
            return result
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                var scalars = Substring(token).unicodeScalars[...]
                var cut = 0
                while cut < start, scalars.first == content { scalars.removeFirst(); cut += 1 }
                cut = 0
                while cut < stop, scalars.last == content { scalars.removeLast(); cut += 1 }
                return String(String.UnicodeScalarView(scalars))
            }
        }
    }

    /// The byte of a token such as "<0x0A>".
    private static func byte(spelledBy token: String) -> UInt8? {
        let utf8 = Array(token.utf8)
        guard utf8.count == 6, utf8.starts(with: Array("<0x".utf8)), utf8[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
    }
}
