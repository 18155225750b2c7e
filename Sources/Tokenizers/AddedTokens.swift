/// A token matched whole in the text before pre-tokenization (special tokens such as "<|im_end|>",
/// and tokens added to a vocabulary), with Hugging Face's flags.
struct AddedToken: Sendable, Equatable {
    var id: Int
    var content: String
    /// Special tokens are dropped by `decode(_:skipSpecialTokens: true)`.
    var special: Bool
    /// Matched in the normalized text rather than the raw text.
    var normalized: Bool
    /// The match takes the whitespace on its left (`lstrip`) or right (`rstrip`) with it.
    var lstrip: Bool
    var rstrip: Bool
    /// Matched only where no word character touches it on either side.
    var singleWord: Bool

    init(id: Int, content: String, special: Bool, normalized: Bool? = nil,
                lstrip: Bool = false, rstrip: Bool = false, singleWord: Bool = false) {
        self.id = id
        self.content = content
        self.special = special
        // As in Hugging Face: special tokens are not normalized unless asked.
        self.normalized = normalized ?? !special
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.singleWord = singleWord
    }
}

/// Finds added tokens in text: leftmost match first, the longest one where several start there,
/// as the Aho-Corasick automaton (LeftmostLongest) of Hugging Face does.
struct AddedTokenMatcher: Sendable {
    private struct Node: Sendable {
        var children: [UInt32: Int32] = [:]
        var token: Int32 = -1
    }

    private let nodes: [Node]
    private let tokens: [AddedToken]

    /// An empty matcher when `tokens` is empty; tokens with empty content never match.
    init(_ tokens: [AddedToken]) {
        var nodes = [Node()]
        for (index, token) in tokens.enumerated() where !token.content.isEmpty {
            var node = 0
            for scalar in token.content.unicodeScalars {
                if let child = nodes[node].children[scalar.value] {
                    node = Int(child)
                } else {
                    nodes.append(Node())
                    nodes[node].children[scalar.value] = Int32(nodes.count - 1)
                    node = nodes.count - 1
                }
            }
            nodes[node].token = Int32(index)
        }
        self.nodes = nodes
        self.tokens = tokens
    }

    var isEmpty: Bool { nodes[0].children.isEmpty }

    /// A piece of text, or an added token with the (possibly stripped) span it covers.
    enum Segment {
        case text(Piece)
        case token(AddedToken, Piece)
    }

    func segments(of piece: Piece) -> [Segment] {
        guard !isEmpty else { return [.text(piece)] }
        var segments: [Segment] = []
        var consumed = piece.startIndex
        var position = piece.startIndex
        while position < piece.endIndex {
            guard let (token, matchEnd) = longestMatch(in: piece, at: position) else {
                position += 1
                continue
            }
            position = matchEnd
            var start = matchEnd - token.content.unicodeScalars.count
            var end = matchEnd
            if token.singleWord {
                let wordBefore = start > piece.startIndex && piece[start - 1].scalar.isWordCharacter
                let wordAfter = end < piece.endIndex && piece[end].scalar.isWordCharacter
                if wordBefore || wordAfter { continue }
            }
            if token.lstrip {
                while start > consumed && piece[start - 1].scalar.isWhitespace { start -= 1 }
            }
            if token.rstrip {
                while end < piece.endIndex && piece[end].scalar.isWhitespace { end += 1 }
            }
            if consumed < start { segments.append(.text(piece[consumed..<start])) }
            segments.append(.token(token, piece[start..<end]))
            consumed = end
        }
        if consumed < piece.endIndex { segments.append(.text(piece[consumed...])) }
        return segments
    }

    private func longestMatch(in piece: Piece, at start: Int) -> (AddedToken, Int)? {
        var node = 0
        var best: (AddedToken, Int)?
        var position = start
        while position < piece.endIndex, let child = nodes[node].children[piece[position].scalar.value] {
            node = Int(child)
            position += 1
            if nodes[node].token >= 0 { best = (tokens[Int(nodes[node].token)], position) }
        }
        return best
    }
}
