import Foundation

/// One query head of a model, written "L3H5" (layer 3, head 5; both from 0).
public struct AttentionHead: Hashable, Comparable, Sendable, CustomStringConvertible {
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

    /// Parses a comma-separated list ("L3H5,L10H0"); the error names the first bad entry.
    public static func list(_ text: String) throws -> [AttentionHead] {
        try text.split(separator: ",").map { part in
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            guard let head = AttentionHead(name: trimmed) else {
                throw CausalError("'\(trimmed)' is not a head; write heads as L<layer>H<head>, e.g. L3H5")
            }
            return head
        }
    }

    private static func number(_ text: Substring) -> Int? {
        guard (1...9).contains(text.count), text.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
        return Int(text)
    }

    public var name: String { "L\(layer)H\(head)" }
    public var description: String { name }

    public static func < (a: AttentionHead, b: AttentionHead) -> Bool { (a.layer, a.head) < (b.layer, b.head) }
}

/// A problem with a causal experiment's request (heads, sequences, settings). One line.
public struct CausalError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
