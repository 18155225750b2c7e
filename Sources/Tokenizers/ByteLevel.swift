/// GPT-2's reversible spelling of bytes as printable characters: printable Latin-1 bytes stand for
/// themselves, the other 68 become U+0100 and up (a space is "Ġ", a newline "Ċ").
enum ByteLevel {
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isPrintable(UInt8(byte)) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// Indexed by scalar value (all below U+0144); -1 where the scalar spells no byte.
    private static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in scalarForByte.enumerated() { table[Int(scalar.value)] = Int16(byte) }
        return table
    }()

    private static func isPrintable(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    static func spell<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var view = String.UnicodeScalarView()
        for byte in bytes { view.append(scalarForByte[Int(byte)]) }
        return String(view)
    }

    static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let value = Int(scalar.value)
        guard value < byteForScalar.count, byteForScalar[value] >= 0 else { return nil }
        return UInt8(byteForScalar[value])
    }

    /// The bytes a token stands for. As in Hugging Face's ByteLevel decoder, a token with any
    /// character outside the byte alphabet (an added token such as "<|im_end|>" is inside it, but
    /// "<think>" in a non-ASCII form may not be) stands for its own UTF-8.
    static func bytes(of token: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            guard let byte = byte(for: scalar) else { return Array(token.utf8) }
            bytes.append(byte)
        }
        return bytes
    }
}
