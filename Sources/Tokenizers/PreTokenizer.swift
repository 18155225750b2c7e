/// Hugging Face's pre-tokenizers for byte-level BPE, applied to the pieces of text between added
/// tokens. Each step cuts every piece further; `byteLevel` must come last, since after it the model
/// sees bytes (the byte spelling itself happens in the model).
indirect enum PreTokenizer: Sendable, Equatable {
    /// `Split` with one of the known patterns and the `Isolated` behaviour.
    case split(SplitPattern)
    /// `Digits`: every digit alone, or runs of digits.
    case digits(individual: Bool)
    /// `ByteLevel`: an optional leading space per piece, then the GPT-2 pattern if `useRegex`.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
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

    /// Hugging Face prepends the space to the piece's first scalar, so it shares that scalar's offsets.
    private static func prefixingSpace(_ piece: Piece) -> Piece {
        guard let first = piece.first, first.scalar != " " else { return piece }
        return Piece([AlignedScalar(scalar: " ", start: first.start, end: first.end)] + piece)
    }
}
