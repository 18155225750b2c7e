/// Hugging Face's pre-tokenizers, applied to the pieces of text between added tokens. Each step cuts
/// every piece further; `byteLevel` must come last, since after it the model sees bytes (the byte
/// spelling itself happens in the model).
indirect enum PreTokenizer: Sendable, Equatable {
    /// SentencePiece's "▁" for a space. `Metaspace` in the newer tokenizer.json files of Llama 2 and
    /// Mistral; GGUF's "llama" tokenizers, as transformers loads them.
    static let metaspace: Unicode.Scalar = "\u{2581}"

    /// Where `metaspace` prepends a "▁" to a piece that does not start with one: never, always, or
    /// only to the piece at the start of the text.
    enum PrependScheme: String, Sendable {
        case never, always, first
    }

    /// `Split` with one of the known patterns and the `Isolated` behaviour.
    case split(SplitPattern)
    /// `Digits`: every digit alone, or runs of digits.
    case digits(individual: Bool)
    /// `ByteLevel`: an optional leading space per piece, then the GPT-2 pattern if `useRegex`.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// `Metaspace`: spaces become `replacement`, which is prepended as `prependScheme` says; with
    /// `split`, the piece is cut before every `replacement`.
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
    case sequence([PreTokenizer])

    func split(_ pieces: [Piece]) -> [Piece] {
        switch self {
        case .sequence(let steps):
            return steps.reduce(pieces) { pieces, step in step.split(pieces) }
        case .split(let pattern):
            return pieces.flatMap(pattern.split)
        case .digits(let individual):
            return pieces.flatMap { Self.splitDigits($0, individual: individual) }
        case .byteLevel(let addPrefixSpace, let useRegex):
            return pieces.flatMap { piece -> [Piece] in
                let prefixed = addPrefixSpace ? Self.prefixingSpace(piece) : piece
                return useRegex ? SplitPattern.gpt2.split(prefixed) : [prefixed]
            }
        case .metaspace(let replacement, let prependScheme, let split):
            return pieces.flatMap { Self.metaspace($0, replacement: replacement, prependScheme: prependScheme, split: split) }
        }
    }

    /// The step list flattened, for checks on the structure.
    var steps: [PreTokenizer] {
        if case .sequence(let steps) = self { return steps.flatMap(\.steps) }
        return [self]
    }

    private static func splitDigits(_ piece: Piece, individual: Bool) -> [Piece] {
        var pieces: [Piece] = []
        var start = piece.startIndex
        while start < piece.endIndex {
            let numeric = piece[start].scalar.isNumeric
            var end = start + 1
            if !numeric || !individual {
                while end < piece.endIndex && piece[end].scalar.isNumeric == numeric { end += 1 }
            }
            pieces.append(piece[start..<end])
            start = end
        }
        return pieces
    }

    private static func metaspace(_ piece: Piece, replacement: Unicode.Scalar, prependScheme: PrependScheme,
                                  split: Bool) -> [Piece] {
        guard let first = piece.first else { return [] }
        var scalars = piece.map { unit in
            unit.scalar == " " ? AlignedScalar(scalar: replacement, start: unit.start, end: unit.end) : unit
        }
        // Hugging Face asks whether the piece begins the original text by its offset.
        let prepends = prependScheme == .always || (prependScheme == .first && first.start == 0)
        if prepends && first.scalar != " " && first.scalar != replacement {
            scalars.insert(AlignedScalar(scalar: replacement, start: first.start, end: first.end), at: 0)
        }
        let spelled = Piece(scalars)
        guard split else { return [spelled] }
        // Each "▁" begins a new piece (Hugging Face's MergedWithNext).
        var pieces: [Piece] = []
        var start = spelled.startIndex
        for index in spelled.indices where index > start && spelled[index].scalar == replacement {
            pieces.append(spelled[start..<index])
            start = index
        }
        pieces.append(spelled[start...])
        return pieces
    }

    /// Hugging Face prepends the space to the piece's first scalar, so it shares that scalar's offsets.
    private static func prefixingSpace(_ piece: Piece) -> Piece {
        guard let first = piece.first, first.scalar != " " else { return piece }
        return Piece([AlignedScalar(scalar: " ", start: first.start, end: first.end)] + piece)
    }
}
