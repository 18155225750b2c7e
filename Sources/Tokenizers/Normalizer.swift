import Foundation

/// Hugging Face's normalizers that the supported tokenizers use: NFC (Qwen2), and Prepend and Replace
/// (Llama 2's SentencePiece style, which spells spaces as "▁").
indirect enum Normalizer: Sendable, Equatable {
    case nfc
    /// Puts `text` before a non-empty piece; the new scalars share the first scalar's offsets, as in
    /// Hugging Face.
    case prepend(String)
    /// Replaces every `pattern` scalar by `content`, which takes the replaced scalar's offsets.
    case replace(pattern: Unicode.Scalar, content: String)
    case sequence([Normalizer])

    func normalize(_ piece: Piece) -> Piece {
        switch self {
        case .nfc:
            return Self.nfc(piece)
        case .prepend(let text):
            guard let first = piece.first else { return piece }
            return Piece(text.unicodeScalars.map { AlignedScalar(scalar: $0, start: first.start, end: first.end) } + piece)
        case .replace(let pattern, let content):
            guard piece.contains(where: { $0.scalar == pattern }) else { return piece }
            return Piece(piece.flatMap { unit -> [AlignedScalar] in
                guard unit.scalar == pattern else { return [unit] }
                return content.unicodeScalars.map { AlignedScalar(scalar: $0, start: unit.start, end: unit.end) }
            })
        case .sequence(let steps):
            return steps.reduce(piece) { piece, step in step.normalize(piece) }
        }
    }

    /// NFC, with each output scalar aligned as Hugging Face aligns it: its NFC runs on the
    /// `unicode-normalization-alignments` crate, which tags every output scalar with how many input
    /// scalars it replaces, and a composed scalar takes the offsets of the first scalar it absorbed.
    private static func nfc(_ piece: Piece) -> Piece {
        // Nothing below U+0300 decomposes into, or composes with, anything else below U+0300.
        if piece.allSatisfy({ $0.scalar.value < 0x300 }) { return piece }
        // Foundation's NFC answers whether anything changes, except that it leaves a Hangul syllable
        // LV followed by a trailing jamo T apart; any vowel or trailing jamo takes the long way.
        let text = String(String.UnicodeScalarView(piece.map(\.scalar)))
        if !piece.contains(where: { (0x1161...0x11C2).contains($0.scalar.value) }),
           text.precomposedStringWithCanonicalMapping.unicodeScalars.elementsEqual(text.unicodeScalars) {
            return piece
        }
        return Piece(align(recompose(decompose(piece)), to: piece))
    }

    /// A scalar of the normalization stream and its change in length: 0 replaces one input scalar,
    /// +1 is inserted, -n replaces one input scalar and removes the n that follow.
    private struct Change {
        var scalar: Unicode.Scalar
        var combiningClass: UInt8
        var change: Int
    }

    /// Canonical decomposition in canonical order: the first scalar of a decomposition replaces its
    /// source, the others are inserted; runs of non-starters are sorted stably by combining class.
    private static func decompose(_ piece: Piece) -> [Change] {
        var stream: [Change] = []
        for unit in piece {
            let parts = String(Character(unit.scalar)).decomposedStringWithCanonicalMapping.unicodeScalars
            for (index, part) in parts.enumerated() {
                stream.append(Change(scalar: part, combiningClass: part.properties.canonicalCombiningClass.rawValue,
                                     change: index == 0 ? 0 : 1))
            }
        }
        var runStart = 0
        while runStart < stream.count {
            guard stream[runStart].combiningClass != 0 else { runStart += 1; continue }
            var runEnd = runStart
            while runEnd < stream.count && stream[runEnd].combiningClass != 0 { runEnd += 1 }
            let sorted = stream[runStart..<runEnd].enumerated()
                .sorted { ($0.element.combiningClass, $0.offset) < ($1.element.combiningClass, $1.offset) }
                .map(\.element)
            stream.replaceSubrange(runStart..<runEnd, with: sorted)
            runStart = runEnd
        }
        return stream
    }

    /// Canonical composition, in the crate's order of output: a starter (possibly composed) first,
    /// then the non-starters that were blocked from it.
    private static func recompose(_ stream: [Change]) -> [Change] {
        var output: [Change] = []
        var composee: Change?
        var blocked: [Change] = []
        var lastClass: UInt8?
        for next in stream {
            guard let starter = composee else {
                if next.combiningClass == 0 { composee = next } else { output.append(next) }
                continue
            }
            if let last = lastClass, last >= next.combiningClass {
                if next.combiningClass == 0 {
                    output.append(starter)
                    output += blocked
                    blocked.removeAll()
                    composee = next
                    lastClass = nil
                } else {
                    blocked.append(next)
                    lastClass = next.combiningClass
                }
                continue
            }
            if let composed = compose(starter.scalar, next.scalar) {
                composee = Change(scalar: composed, combiningClass: 0, change: starter.change + next.change - 1)
            } else if lastClass == nil && next.combiningClass == 0 {
                output.append(starter)
                composee = next
            } else {
                blocked.append(next)
                lastClass = next.combiningClass
            }
        }
        if let starter = composee { output.append(starter) }
        return output + blocked
    }

    /// The primary composite of two scalars, if any.
    private static func compose(_ first: Unicode.Scalar, _ second: Unicode.Scalar) -> Unicode.Scalar? {
        // Hangul by arithmetic (Foundation does not compose a syllable LV with a trailing T on its own).
        let syllables: UInt32 = 0xAC00, leads: UInt32 = 0x1100, vowels: UInt32 = 0x1161, trails: UInt32 = 0x11A7
        let (a, b) = (first.value, second.value)
        if a &- leads < 19 && b &- vowels < 21 {
            return Unicode.Scalar(syllables + ((a - leads) * 21 + (b - vowels)) * 28)
        }
        if a &- syllables < 11172 && (a - syllables) % 28 == 0 && b &- trails < 28 && b != trails {
            return Unicode.Scalar(a + (b - trails))
        }
        let pair = String(String.UnicodeScalarView([first, second])).precomposedStringWithCanonicalMapping
        let scalars = pair.unicodeScalars
        return scalars.count == 1 ? scalars.first : nil
    }

    /// Offsets for the stream, walking the input as Hugging Face's `NormalizedString.transform` does.
    private static func align(_ stream: [Change], to piece: Piece) -> [AlignedScalar] {
        var result: [AlignedScalar] = []
        result.reserveCapacity(stream.count)
        var next = piece.startIndex
        for item in stream {
            let source: AlignedScalar
            if item.change > 0 {
                // An inserted scalar shares the offsets of the input scalar before it.
                source = piece[max(piece.startIndex, min(next, piece.endIndex) - 1)]
            } else {
                source = piece[min(next, piece.endIndex - 1)]
                next += 1 - item.change
            }
            result.append(AlignedScalar(scalar: item.scalar, start: source.start, end: source.end))
        }
        return result
    }
}
