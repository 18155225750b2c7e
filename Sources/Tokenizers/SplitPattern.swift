/// The split patterns of the byte-level BPE families, each scanned by hand. Every case equals one
/// regular expression of Hugging Face's tokenizer.json files as Oniguruma matches it (leftmost
/// alternative first, greedy); `regex` is that expression, used to recognise it in a file.
enum SplitPattern: String, Sendable, CaseIterable {
    case gpt2, llama3, qwen2

    var regex: String {
        switch self {
        case .gpt2:
            return #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
        case .llama3:
            return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        case .qwen2:
            return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        }
    }

    /// Cuts `piece` into consecutive matches. Every scalar is a letter, a number, whitespace or
    /// "other", so each position starts a match and nothing falls between matches.
    func split(_ piece: Piece) -> [Piece] {
        var pieces: [Piece] = []
        var start = piece.startIndex
        while start < piece.endIndex {
            let end = matchEnd(in: piece, from: start)
            pieces.append(piece[start..<end])
            start = end
        }
        return pieces
    }

    private func matchEnd(in piece: Piece, from i: Int) -> Int {
        switch self {
        case .gpt2: return gpt2MatchEnd(in: piece, from: i)
        case .llama3: return llamaMatchEnd(in: piece, from: i, maxDigits: 3)
        case .qwen2: return llamaMatchEnd(in: piece, from: i, maxDigits: 1)
        }
    }

    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    private func gpt2MatchEnd(in p: Piece, from i: Int) -> Int {
        if let end = contractionEnd(in: p, from: i, foldingCase: false) { return end }
        // The optional space of the next three alternatives.
        let j = p[i].scalar == " " && i + 1 < p.endIndex ? i + 1 : i
        if p[j].scalar.isPatternLetter { return run(in: p, from: j, while: \.isPatternLetter) }
        if p[j].scalar.isPatternNumber { return run(in: p, from: j, while: \.isPatternNumber) }
        if p[j].scalar.isOther { return run(in: p, from: j, while: \.isOther) }
        return whitespaceMatchEnd(in: p, from: i)
    }

    // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}| ?[^\s\p{L}\p{N}]+[\r\n]*
    // |\s*[\r\n]+|\s+(?!\S)|\s+
    private func llamaMatchEnd(in p: Piece, from i: Int, maxDigits: Int) -> Int {
        if let end = contractionEnd(in: p, from: i, foldingCase: true) { return end }
        let c = p[i].scalar
        if c.isPatternLetter { return run(in: p, from: i, while: \.isPatternLetter) }
        if !c.isNewline && !c.isPatternNumber && i + 1 < p.endIndex && p[i + 1].scalar.isPatternLetter {
            return run(in: p, from: i + 1, while: \.isPatternLetter)
        }
        if c.isPatternNumber {
            return min(run(in: p, from: i, while: \.isPatternNumber), i + maxDigits)
        }
        let j = c == " " && i + 1 < p.endIndex ? i + 1 : i
        if p[j].scalar.isOther {
            let end = run(in: p, from: j, while: \.isOther)
            return run(in: p, from: end, while: \.isNewline)
        }
        // \s*[\r\n]+ ends after the last line break of the whitespace run.
        let runEnd = run(in: p, from: i, while: \.isWhitespace)
        if let lastBreak = p[i..<runEnd].lastIndex(where: { $0.scalar.isNewline }) { return lastBreak + 1 }
        return whitespaceMatchEnd(in: p, from: i)
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d`, optionally case-insensitive as Oniguruma folds case (so "'ſ" is "'s").
    private func contractionEnd(in p: Piece, from i: Int, foldingCase: Bool) -> Int? {
        guard p[i].scalar == "'", i + 1 < p.endIndex else { return nil }
        func letter(_ k: Int) -> Unicode.Scalar? {
            guard k < p.endIndex else { return nil }
            let s = p[k].scalar
            guard foldingCase else { return s }
            if s.value &- 0x41 < 26 { return Unicode.Scalar(s.value + 0x20) }
            return s == "\u{017F}" ? "s" : s
        }
        switch letter(i + 1) {
        case "s", "t", "m", "d": return i + 2
        case "r", "v": return letter(i + 2) == "e" ? i + 3 : nil
        case "l": return letter(i + 2) == "l" ? i + 3 : nil
        default: return nil
        }
    }

    /// `\s+(?!\S)|\s+` at a whitespace scalar: the run, less its last scalar when a non-space follows.
    private func whitespaceMatchEnd(in p: Piece, from i: Int) -> Int {
        let end = run(in: p, from: i, while: \.isWhitespace)
        if end < p.endIndex && end - i >= 2 { return end - 1 }
        return end
    }

    private func run(in p: Piece, from i: Int, while predicate: (Unicode.Scalar) -> Bool) -> Int {
        var k = i
        while k < p.endIndex && predicate(p[k].scalar) { k += 1 }
        return k
    }
}

extension Unicode.Scalar {
    /// `[^\s\p{L}\p{N}]`
    fileprivate var isOther: Bool { !isWhitespace && !isPatternLetter && !isPatternNumber }
    /// `[\r\n]`
    fileprivate var isNewline: Bool { self == "\n" || self == "\r" }
}
