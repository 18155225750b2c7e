/// One query head, written "L14H3" (layer 14, head 3; both from 0), as TransformerLens users
/// write `blocks.14.attn` head 3.
public struct HeadID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let layer: Int
    public let head: Int

    public init(layer: Int, head: Int) {
        self.layer = layer
        self.head = head
    }

    /// Parses "L<layer>H<head>"; nil for anything else.
    public init?(name: String) {
        let parts = name.split(separator: "H", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].first == "L",
              let layer = Self.number(parts[0].dropFirst()), let head = Self.number(parts[1]) else { return nil }
        self.init(layer: layer, head: head)
    }

    /// Plain decimal digits only: no sign, no spaces, and few enough that the value cannot overflow.
    private static func number(_ text: Substring) -> Int? {
        guard (1...9).contains(text.count), text.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
        return Int(text)
    }

    public var name: String { "L\(layer)H\(head)" }
    public var description: String { name }

    public static func < (a: HeadID, b: HeadID) -> Bool { (a.layer, a.head) < (b.layer, b.head) }
}
