/// A BPE tokenizer that gives the same tokens as Hugging Face's: byte-level (GPT-2, Llama 3, SmolLM,
/// Qwen2) or SentencePiece style (Llama 2, Mistral: spaces spelled "▁", byte fallback). Added tokens
/// are cut out of the raw text first, the rest is normalized, pre-tokenized and merged; special tokens
/// are then put around it as the model says.
///
/// Immutable after construction; share it freely across threads.
public struct Tokenizer: Sendable {
    /// "bpe/" and the pre-tokenizer family (`tokenizer.ggml.pre` naming), e.g. "bpe/smollm";
    /// "bpe/custom" for a byte-level tokenizer.json pipeline that is none of the known families;
    /// "bpe/sentencepiece" for SentencePiece-style BPE.
    public let kind: String
    public let bosTokenID: Int?
    public let eosTokenID: Int?
    /// One more than the largest token id.
    public let vocabSize: Int
    /// Token ids at or beyond this are refused as absurd (the largest released vocabularies hold
    /// about 2^18 tokens); it matches the model configuration's limit.
    public static let largestVocabulary = 1 << 24
    /// The file the tokenizer was read from, for messages.
    public let source: String
    /// Whether `encode` puts the BOS token first (with `addSpecialTokens`).
    public var addsBOSToken: Bool { bosTokenID.map { postProcessor.prefix.first == $0 } ?? false }

    private let model: BytePairModel
    private let addedTokens: [Int: AddedToken]
    private let addedTokenIDs: [String: Int]
    private let specialContents: Set<String>
    /// Added tokens matched in the raw text, and those matched after normalization.
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    private let normalizer: Normalizer?
    private let preTokenizer: PreTokenizer
    private let postProcessor: PostProcessor
    private let decoder: TokenDecoder

    /// What Hugging Face's post-processor does: tokens put before and after the text, and the
    /// ByteLevel trimming of spaces off offsets.
    struct PostProcessor: Sendable {
        var prefix: [Int] = []
        var suffix: [Int] = []
        var trimOffsets = false
        /// ByteLevel's `add_prefix_space`, which spares the first token's single leading space.
        var trimSparesPrefixSpace = false
    }

    init(model: BytePairModel, addedTokens: [AddedToken], normalizer: Normalizer?, preTokenizer: PreTokenizer,
         postProcessor: PostProcessor, decoder: TokenDecoder, bosTokenID: Int?, eosTokenID: Int?, source: String) throws {
        let steps = preTokenizer.steps
        let byteLevelSteps = steps.indices.filter { if case .byteLevel = steps[$0] { true } else { false } }
        if model.alphabet == .byteLevel {
            guard byteLevelSteps == [steps.count - 1] else {
                throw TokenizerError(source, "a byte-level BPE tokenizer needs ByteLevel as its last pre-tokenizer step (and only there)")
            }
            guard decoder == .byteLevel else { throw TokenizerError(source, "a byte-level BPE tokenizer needs the ByteLevel decoder") }
        } else {
            guard byteLevelSteps.isEmpty else {
                throw TokenizerError(source, "a ByteLevel pre-tokenizer cannot go with BPE byte_fallback (SentencePiece style)")
            }
            guard decoder != .byteLevel else {
                throw TokenizerError(source, "the ByteLevel decoder cannot go with BPE byte_fallback (SentencePiece style)")
            }
        }
        for id in postProcessor.prefix + postProcessor.suffix
        where model.tokens[id] == nil && !addedTokens.contains(where: { $0.id == id }) {
            throw TokenizerError(source, "special token id \(id) of the post-processor is not in the vocabulary")
        }
        self.model = model
        self.addedTokens = Dictionary(addedTokens.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        self.addedTokenIDs = Dictionary(addedTokens.map { ($0.content, $0.id) }, uniquingKeysWith: { _, last in last })
        self.specialContents = Set(addedTokens.filter(\.special).map(\.content))
        self.rawMatcher = AddedTokenMatcher(addedTokens.filter { !$0.normalized })
        self.normalizedMatcher = AddedTokenMatcher(addedTokens.filter(\.normalized))
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.postProcessor = postProcessor
        self.decoder = decoder
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        if model.alphabet == .byteLevel {
            let family = PreTokenizerFamily(normalizer: normalizer, preTokenizer: preTokenizer)
            self.kind = "bpe/" + (family?.rawValue ?? "custom")
        } else {
            self.kind = "bpe/sentencepiece"
        }
        let largestID = max(model.tokens.keys.max() ?? -1, addedTokens.map(\.id).max() ?? -1)
        self.vocabSize = largestID + 1
        self.source = source
    }

    /// Every token id must be one the model has a row for: a tokenizer that makes larger ids
    /// belongs to another model (or its file is broken).
    public func checkFits(modelVocabularySize: Int, modelPath: String) throws {
        guard vocabSize <= modelVocabularySize else {
            throw TokenizerError(source, "token id \(vocabSize - 1) is outside the model's vocabulary of \(modelVocabularySize) (\(modelPath))")
        }
    }

    // MARK: Encoding

    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        encodeWithOffsets(text, addSpecialTokens: addSpecialTokens).ids
    }

    /// Token ids and, for each, the UTF-8 byte range of `text` it comes from. A token holding only part
    /// of a character gets the whole character's range (so neighbours may share one); a token the
    /// post-processor adds (BOS) gets the empty range at 0. In SentencePiece style, a "▁" that stands
    /// for a space covers that space, and a "▁" prepended to the text covers the character it was put
    /// before (as in Hugging Face; a token that is only that "▁" thus shares its neighbour's range).
    public func encodeWithOffsets(_ text: String, addSpecialTokens: Bool = true) -> (ids: [Int], offsets: [Range<Int>]) {
        var tokens: [EncodedToken] = []
        let scalars = AlignedScalar.scalars(of: text)
        for segment in rawMatcher.segments(of: scalars[...]) {
            switch segment {
            case .token(let token, let span):
                tokens.append(EncodedToken(id: token.id, offsets: Self.range(of: span), matched: span))
            case .text(let piece):
                let normalized = normalizer?.normalize(piece) ?? piece
                for inner in normalizedMatcher.segments(of: normalized) {
                    switch inner {
                    case .token(let token, let span):
                        tokens.append(EncodedToken(id: token.id, offsets: Self.range(of: span), matched: span))
                    case .text(let piece):
                        for word in preTokenizer.split([piece]) { appendTokens(of: word, to: &tokens) }
                    }
                }
            }
        }
        if postProcessor.trimOffsets { trimSpaces(&tokens, text: scalars) }
        var ids = tokens.map(\.id)
        var offsets = tokens.map(\.offsets)
        if addSpecialTokens {
            ids = postProcessor.prefix + ids + postProcessor.suffix
            offsets = Array(repeating: 0..<0, count: postProcessor.prefix.count) + offsets
                + Array(repeating: 0..<0, count: postProcessor.suffix.count)
        }
        return (ids, offsets)
    }

    /// A token on its way out; an added token keeps the text it matched (with any stripped
    /// whitespace), which is what Hugging Face trims offsets by.
    private struct EncodedToken {
        var id: Int
        var offsets: Range<Int>
        var matched: Piece?
    }

    private static func range(of span: Piece) -> Range<Int> {
        guard let first = span.first, let last = span.last else { return 0..<0 }
        return first.start..<max(first.start, last.end)
    }

    private func appendTokens(of word: Piece, to tokens: inout [EncodedToken]) {
        var bytes: [UInt8] = []
        var byteOrigins: [Int] = []  // for each byte, the index of its scalar in `word`
        bytes.reserveCapacity(word.count)
        byteOrigins.reserveCapacity(word.count)
        for index in word.indices {
            UTF8.encode(word[index].scalar) { byte in
                bytes.append(byte)
                byteOrigins.append(index)
            }
        }
        var position = 0
        for token in model.tokenize(bytes) {
            let first = word[byteOrigins[position]]
            let last = word[byteOrigins[position + Int(token.length) - 1]]
            tokens.append(EncodedToken(id: Int(token.id), offsets: first.start..<max(first.start, last.end)))
            position += Int(token.length)
        }
    }

    /// Hugging Face's ByteLevel `trim_offsets`: offsets lose the spaces at either end of the token.
    /// Python's tokenizers trims character offsets (it converts before post-processing), so this
    /// counts characters too: a prefix space shares a whole character's bytes.
    private func trimSpaces(_ tokens: inout [EncodedToken], text scalars: [AlignedScalar]) {
        func characterIndex(ofByte offset: Int) -> Int {
            var low = 0, high = scalars.count
            while low < high {
                let middle = (low + high) / 2
                if scalars[middle].start < offset { low = middle + 1 } else { high = middle }
            }
            return low
        }
        func byteOffset(ofCharacter index: Int) -> Int {
            index < scalars.count ? scalars[index].start : (scalars.last?.end ?? 0)
        }
        func isSpace(_ scalar: Unicode.Scalar) -> Bool { scalar == "\u{0120}" || scalar.isWhitespace }
        for index in tokens.indices {
            let surface = tokens[index].matched.map { $0.map(\.scalar) }
                ?? tokenString(tokens[index].id).map { Array($0.unicodeScalars) } ?? []
            var leading = surface.prefix(while: isSpace).count
            let trailing = surface.reversed().prefix(while: isSpace).count
            guard leading > 0 || trailing > 0 else { continue }
            var start = characterIndex(ofByte: tokens[index].offsets.lowerBound)
            var end = characterIndex(ofByte: tokens[index].offsets.upperBound)
            if leading > 0 {
                let isFirst = index == 0 || start == 0
                if isFirst && postProcessor.trimSparesPrefixSpace && leading == 1 { leading = 0 }
                start = min(start + leading, end)
            }
            if trailing > 0 && end >= trailing { end = max(end - trailing, start) }
            tokens[index].offsets = byteOffset(ofCharacter: start)..<byteOffset(ofCharacter: end)
        }
    }

    // MARK: Decoding and the vocabulary

    /// The text of `ids` (ids outside the vocabulary are skipped), as the tokenizer's Hugging Face
    /// decoder gives it; bytes that are not valid UTF-8 become U+FFFD.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        let tokens = ids.compactMap(tokenString).filter { !(skipSpecialTokens && specialContents.contains($0)) }
        return decoder.decode(tokens)
    }

    /// The vocabulary's spelling of a token, e.g. "ĠTrue" for " True", or an added token's content.
    public func tokenString(_ id: Int) -> String? {
        addedTokens[id]?.content ?? model.tokens[id]
    }

    public func id(forToken token: String) -> Int? {
        addedTokenIDs[token] ?? model.vocabulary[token]
    }
}
