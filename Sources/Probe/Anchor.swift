import LogicTasks

/// The anchor token for a byte offset in the prompt.
///
/// - `tokenMayCross` true: the token holding the byte just before `utf8Offset`, i.e. the last
///   token that starts before it; a token that runs across the offset (".\n" merged) still counts.
/// - `tokenMayCross` false: the last token that ends at or before `utf8Offset`, so a token that
///   reaches past it ("\nAnswer" merged into one token, when the offset is the cue's start) is
///   left out and the token before it is the anchor.
///
/// Tokens with empty ranges (an added BOS) are never the anchor.
public func anchorTokenIndex(offsets: [Range<Int>], utf8Offset: Int, tokenMayCross: Bool = true) -> Int? {
    offsets.indices.last { index in
        let range = offsets[index]
        return !range.isEmpty && (tokenMayCross ? range.lowerBound < utf8Offset : range.upperBound <= utf8Offset)
    }
}

/// The anchor of a rendered prompt under `rule`, from its tokens' byte offsets; nil where the
/// rule finds no token (nothing before the cue, no `{anchor}` mark).
public func anchorTokenIndex(offsets: [Range<Int>], prompt: RenderedPrompt, rule: AnchorRule) -> Int? {
    guard let place = prompt.anchorPlace(rule) else { return nil }
    return anchorTokenIndex(offsets: offsets, utf8Offset: place.offset, tokenMayCross: place.tokenMayCross)
}
