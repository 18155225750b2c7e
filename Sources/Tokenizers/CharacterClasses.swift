// Character classes exactly as the reference implementations see them.
//
// Hugging Face tokenizers runs its split patterns with Oniguruma, which knows Unicode 16.0: a scalar
// assigned later is unassigned to it (neither \p{L} nor \p{N}), although Swift already knows it.
// `Digits` uses Rust's `char::is_numeric` and the added-token flags use the Rust `regex` crate, whose
// tables are as new as Swift's.

extension Unicode.Scalar {
    /// `\p{L}` in the split patterns.
    var isPatternLetter: Bool {
        if value < 0x80 { return (value | 0x20) &- 0x61 < 26 }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return isKnownToOniguruma
        default:
            return false
        }
    }

    /// `\p{N}` in the split patterns.
    var isPatternNumber: Bool {
        if value < 0x80 { return value &- 0x30 < 10 }
        return isNumeric && isKnownToOniguruma
    }

    /// `\s`: the Unicode White_Space property (Oniguruma and Rust agree on it).
    var isWhitespace: Bool {
        if value < 0x80 { return value == 0x20 || (value &- 0x09 < 5) }
        return properties.isWhitespace
    }

    /// Rust's `char::is_numeric`: general category Nd, Nl or No.
    var isNumeric: Bool {
        if value < 0x80 { return value &- 0x30 < 10 }
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// `\w` of the Rust `regex` crate: Alphabetic, marks, Nd, Pc and Join_Control.
    var isWordCharacter: Bool {
        if value < 0x80 {
            return (value | 0x20) &- 0x61 < 26 || value &- 0x30 < 10 || value == 0x5F
        }
        let properties = self.properties
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    private var isKnownToOniguruma: Bool {
        guard let age = properties.age else { return false }
        return age.major < 16 || (age.major == 16 && age.minor == 0)
    }
}
