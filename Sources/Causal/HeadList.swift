import Foundation
import Probe

extension HeadID {
    /// Parses a comma-separated list ("L3H5,L10H0"); the error names the first bad entry.
    public static func list(_ text: String) throws -> [HeadID] {
        try text.split(separator: ",").map { part in
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            guard let head = HeadID(name: trimmed) else {
                throw CausalError("'\(trimmed)' is not a head; write heads as L<layer>H<head>, e.g. L3H5")
            }
            return head
        }
    }
}

/// A problem with a causal experiment's request (heads, sequences, settings). One line.
public struct CausalError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
