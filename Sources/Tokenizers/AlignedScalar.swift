/// One scalar of the text on its way to the model, with the UTF-8 byte range of the input it comes
/// from. Normalization may give several scalars the same range, or drop scalars; offsets of tokens
/// are read from these ranges, as Hugging Face reads them from its alignments.
struct AlignedScalar: Sendable {
    var scalar: Unicode.Scalar
    var start: Int
    var end: Int

    /// The scalars of `text`, each aligned with its own bytes.
    static func scalars(of text: String) -> [AlignedScalar] {
        var result: [AlignedScalar] = []
        result.reserveCapacity(text.utf8.count)
        var offset = 0
        for scalar in text.unicodeScalars {
            let length = UTF8.width(scalar)
            result.append(AlignedScalar(scalar: scalar, start: offset, end: offset + length))
            offset += length
        }
        return result
    }
}

/// A stretch of aligned text that later steps split further or hand to the model.
typealias Piece = ArraySlice<AlignedScalar>
