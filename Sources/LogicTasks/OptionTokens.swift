/// What to do with an answer option that the tokenizer splits into several tokens.
public enum OptionTokenPolicy: String, Sendable, CaseIterable {
    /// Every option must be exactly one token.
    case exact
    /// Score an option by its first token.
    case first
    /// Score an option by its last token.
    case last
}

/// One token id per answer option, as the QK-score needs: the query at the option token.
///
/// With `.exact` an option that is not one token is an error; `.first` and `.last` take that
/// token of a longer option. Two options that end up with the same token cannot be told apart,
/// which is an error under every policy.
public func resolveOptionTokens(
    options: [String], tokenize: (String) throws -> [Int], policy: OptionTokenPolicy
) throws -> [Int] {
    var tokens: [Int] = []
    for option in options {
        let ids = try tokenize(option)
        let name = quoted(option)
        guard let first = ids.first, let last = ids.last else {
            throw OptionTokenError("option \(name) gives no tokens")
        }
        switch policy {
        case .exact:
            guard ids.count == 1 else {
                throw OptionTokenError(
                    "option \(name) is \(ids.count) tokens \(ids), not one; choose --option-token first|last to score it by one of them")
            }
            tokens.append(first)
        case .first: tokens.append(first)
        case .last: tokens.append(last)
        }
    }
    for (index, token) in tokens.enumerated() {
        if let earlier = tokens[..<index].firstIndex(of: token) {
            throw OptionTokenError(
                "options \(quoted(options[earlier])) and \(quoted(options[index])) both map to token \(token); the scores could not tell them apart")
        }
    }
    return tokens
}

public struct OptionTokenError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
