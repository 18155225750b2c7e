/// The anchor token: the token that ends the question line, i.e. the last token that starts
/// before `anchorUTF8Offset` (the byte offset just past the question text, before the newline
/// and "Answer"). A token that runs across the offset (".\n" merged into one) is still the anchor.
/// Tokens with empty ranges (an added BOS) are never the anchor.
public func anchorTokenIndex(offsets: [Range<Int>], anchorUTF8Offset: Int) -> Int? {
    offsets.indices.last { !offsets[$0].isEmpty && offsets[$0].lowerBound < anchorUTF8Offset }
}
