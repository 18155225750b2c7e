/// A bounds-checked little-endian cursor over untrusted bytes.
///
/// Every read checks the remaining length first and throws a `ModelFormatError` that says what
/// was being read and where, so a truncated or hostile file can never read out of bounds.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    private(set) var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, path: String, offset: Int = 0) {
        self.bytes = bytes
        self.path = path
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    func error(_ problem: String) -> ModelFormatError {
        ModelFormatError(path, problem)
    }

    mutating func skip(_ count: Int, _ what: @autoclosure () -> String) throws {
        guard count >= 0, count <= remaining else {
            throw error("truncated: \(what()) needs \(count) bytes at offset \(offset), file has \(remaining) left")
        }
        offset += count
    }

    /// A view of the next `count` bytes; the cursor moves past them.
    mutating func slice(_ count: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        let start = offset
        try skip(count, what())
        return UnsafeRawBufferPointer(rebasing: bytes[start ..< start + count])
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let start = offset
        try skip(MemoryLayout<T>.size, what())
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: start, as: T.self))
    }

    mutating func readFloat(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readDouble(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// A count stored as an unsigned 64-bit integer, checked against how many items of at least
    /// `minimumItemSize` bytes the rest of the file could hold, so no caller allocates for counts
    /// the file cannot back.
    mutating func readCount(_ what: @autoclosure () -> String, minimumItemSize: Int) throws -> Int {
        let raw = try read(UInt64.self, what())
        let capacity = remaining / max(minimumItemSize, 1)
        guard raw <= UInt64(capacity) else {
            throw error("\(what()) \(raw) is larger than the \(remaining) remaining bytes could hold")
        }
        return Int(raw)
    }

    /// A UTF-8 string preceded by its 64-bit byte length.
    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let length = try read(UInt64.self, "\(what()) length")
        guard length <= UInt64(remaining) else {
            throw error("\(what()) length \(length) at offset \(offset - 8) runs past the end of the file (\(remaining) bytes left)")
        }
        let start = offset
        let raw = try slice(Int(length), what())
        // Decoding replaces invalid sequences, so a round trip that changes the bytes means invalid UTF-8.
        let string = String(decoding: raw, as: UTF8.self)
        guard string.utf8.elementsEqual(raw) else {
            throw error("\(what()) at offset \(start) is not valid UTF-8")
        }
        return string
    }
}
