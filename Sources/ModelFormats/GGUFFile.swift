import Foundation

/// Where one tensor lives in a GGUF file and how it is stored.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Dimensions as ggml stores them, innermost (contiguous) first.
    public let ggmlShape: [Int]
    public let type: GGMLType
    /// Byte offset from the start of the data section (a multiple of the file's alignment).
    public let offset: Int
    /// Bytes the tensor occupies.
    public let byteCount: Int

    /// Dimensions outermost first, as PyTorch shapes the same tensor.
    public var shape: [Int] { ggmlShape.reversed() }
    public var elementCount: Int { ggmlShape.reduce(1, *) }
}

/// A GGUF model file (versions 2 and 3), memory-mapped for the object's lifetime.
///
/// Every size, count and offset in the header is validated against the file before it is used,
/// so malformed files end in a `ModelFormatError` rather than a crash or a huge allocation.
public final class GGUFFile: WeightSource, @unchecked Sendable {
    public let path: String
    public let version: UInt32
    /// Metadata keys in file order; values are in `metadata`.
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    /// Tensors in file order.
    public let tensorInfos: [GGUFTensorInfo]
    /// `general.alignment`, default 32.
    public let alignment: Int
    /// Absolute file offset of the data section.
    public let dataOffset: Int

    private let file: MappedFile
    private let tensorIndex: [String: Int]

    public static let magic: [UInt8] = Array("GGUF".utf8)
    public static let defaultAlignment = 32
    /// ggml's GGML_MAX_DIMS.
    public static let maxDimensions = 4
    /// Arrays of arrays deeper than this are rejected before they can exhaust the stack.
    static let maxArrayNesting = 8
    /// Counts are checked against the bytes left, but a parsed value takes more memory than its
    /// bytes; beyond this many, storage grows with what is actually read rather than up front.
    static let reservationLimit = 1 << 16

    public convenience init(url: URL) throws {
        try self.init(file: MappedFile(url: url))
    }

    init(file: MappedFile) throws {
        self.file = file
        path = file.path
        var reader = ByteReader(file.bytes, path: file.path)

        let magic = try reader.slice(4, "magic")
        guard magic.elementsEqual(Self.magic) else {
            throw reader.error("not a GGUF file (magic \(magic.map { String(format: "%02x", $0) }.joined()), expected 47475546 \"GGUF\")")
        }
        version = try reader.read(UInt32.self, "version")
        guard version == 2 || version == 3 else {
            if version.byteSwapped == 2 || version.byteSwapped == 3 {
                throw reader.error("big-endian GGUF files are not supported")
            }
            throw reader.error("unsupported GGUF version \(version) (supported: 2, 3)")
        }
        // Smallest possible entries: a tensor info is name length + n_dims + one dim + type + offset;
        // a key-value pair is key length + type + a one-byte value.
        let tensorCount = try reader.readCount("tensor count", minimumItemSize: 8 + 4 + 8 + 4 + 8)
        let kvCount = try reader.readCount("metadata key-value count", minimumItemSize: 8 + 4 + 1)

        var keys: [String] = []
        var values: [String: GGUFValue] = [:]
        keys.reserveCapacity(min(kvCount, Self.reservationLimit))
        for index in 0 ..< kvCount {
            let key = try reader.readString("metadata key #\(index)")
            let rawType = try reader.read(UInt32.self, "type of metadata \(key)")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw reader.error("metadata \(key) has unknown value type \(rawType)")
            }
            let value = try Self.readValue(type, &reader, key: key, depth: 0)
            guard values.updateValue(value, forKey: key) == nil else {
                throw reader.error("duplicate metadata key \(key)")
            }
            keys.append(key)
        }
        metadataKeys = keys
        metadata = values

        if let value = values["general.alignment"] {
            guard case .uint32(let raw) = value else {
                throw reader.error("general.alignment must be uint32, found \(value.type)")
            }
            guard raw > 0, raw & (raw - 1) == 0 else {
                throw reader.error("general.alignment \(raw) is not a power of two")
            }
            alignment = Int(raw)
        } else {
            alignment = Self.defaultAlignment
        }

        var infos: [GGUFTensorInfo] = []
        var index: [String: Int] = [:]
        infos.reserveCapacity(min(tensorCount, Self.reservationLimit))
        for number in 0 ..< tensorCount {
            let info = try Self.readTensorInfo(&reader, number: number, alignment: alignment)
            guard index.updateValue(infos.count, forKey: info.name) == nil else {
                throw reader.error("duplicate tensor name \(info.name)")
            }
            infos.append(info)
        }
        tensorInfos = infos
        tensorIndex = index

        let headerEnd = reader.offset
        let padded = (headerEnd + alignment - 1) / alignment * alignment
        dataOffset = padded
        let dataBytes = file.count - min(padded, file.count)
        if !infos.isEmpty, padded > file.count {
            throw reader.error("truncated: data section should start at offset \(padded), file has \(file.count) bytes")
        }
        for info in infos {
            // offset <= dataBytes - byteCount cannot overflow: both sides are non-negative Ints.
            guard info.byteCount <= dataBytes, info.offset <= dataBytes - info.byteCount else {
                throw reader.error("tensor \(info.name) (\(info.byteCount) bytes at data offset \(info.offset)) runs past the end of the file (data section has \(dataBytes) bytes)")
            }
        }
    }

    // MARK: Parsing

    private static func readValue(_ type: GGUFValueType, _ reader: inout ByteReader, key: String, depth: Int) throws -> GGUFValue {
        let what = "value of metadata \(key)"
        switch type {
        case .uint8: return .uint8(try reader.read(UInt8.self, what))
        case .int8: return .int8(try reader.read(Int8.self, what))
        case .uint16: return .uint16(try reader.read(UInt16.self, what))
        case .int16: return .int16(try reader.read(Int16.self, what))
        case .uint32: return .uint32(try reader.read(UInt32.self, what))
        case .int32: return .int32(try reader.read(Int32.self, what))
        case .uint64: return .uint64(try reader.read(UInt64.self, what))
        case .int64: return .int64(try reader.read(Int64.self, what))
        case .float32: return .float32(try reader.readFloat(what))
        case .float64: return .float64(try reader.readDouble(what))
        case .bool:
            let byte = try reader.read(UInt8.self, what)
            guard byte <= 1 else { throw reader.error("metadata \(key) is a bool with byte value \(byte)") }
            return .bool(byte == 1)
        case .string:
            return .string(try reader.readString(what))
        case .array:
            guard depth < maxArrayNesting else {
                throw reader.error("metadata \(key) nests arrays deeper than \(maxArrayNesting) levels")
            }
            let rawElementType = try reader.read(UInt32.self, "array element type of metadata \(key)")
            guard let elementType = GGUFValueType(rawValue: rawElementType) else {
                throw reader.error("metadata \(key) is an array of unknown value type \(rawElementType)")
            }
            let count = try reader.readCount("array length of metadata \(key)", minimumItemSize: elementType.minimumEncodedSize)
            var elements: [GGUFValue] = []
            elements.reserveCapacity(min(count, reservationLimit))
            for _ in 0 ..< count {
                elements.append(try readValue(elementType, &reader, key: key, depth: depth + 1))
            }
            return .array(elementType: elementType, elements)
        }
    }

    private static func readTensorInfo(_ reader: inout ByteReader, number: Int, alignment: Int) throws -> GGUFTensorInfo {
        let name = try reader.readString("name of tensor #\(number)")
        let dimensionCount = try reader.read(UInt32.self, "dimension count of tensor \(name)")
        guard dimensionCount >= 1, dimensionCount <= maxDimensions else {
            throw reader.error("tensor \(name) has \(dimensionCount) dimensions (expected 1 to \(maxDimensions))")
        }
        var ggmlShape: [Int] = []
        var elements = 1
        for axis in 0 ..< Int(dimensionCount) {
            let raw = try reader.read(UInt64.self, "dimension \(axis) of tensor \(name)")
            guard let dimension = Int(exactly: raw) else {
                throw reader.error("tensor \(name) dimension \(axis) is \(raw), too large")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw reader.error("tensor \(name) shape \(ggmlShape + [dimension]) has more elements than fit in 64 bits")
            }
            elements = product
            ggmlShape.append(dimension)
        }
        let rawType = try reader.read(UInt32.self, "type of tensor \(name)")
        guard let type = GGMLType(rawValue: rawType) else {
            throw reader.error("tensor \(name) has unknown ggml type \(rawType)")
        }
        let rawOffset = try reader.read(UInt64.self, "data offset of tensor \(name)")
        guard let offset = Int(exactly: rawOffset) else {
            throw reader.error("tensor \(name) data offset \(rawOffset) is too large")
        }
        guard offset % alignment == 0 else {
            throw reader.error("tensor \(name) data offset \(offset) is not a multiple of the alignment \(alignment)")
        }
        let (blockElements, blockBytes) = type.blockLayout
        guard ggmlShape[0] % blockElements == 0 else {
            throw reader.error("tensor \(name) row length \(ggmlShape[0]) is not a multiple of the \(type) block size \(blockElements)")
        }
        // elements fits in Int and blockBytes / blockElements <= 4, so this cannot overflow by more than
        // one multiplication; check it anyway.
        let (byteCount, overflow) = (elements / blockElements).multipliedReportingOverflow(by: blockBytes)
        guard !overflow else {
            throw reader.error("tensor \(name) byte size overflows 64 bits")
        }
        return GGUFTensorInfo(name: name, ggmlShape: ggmlShape, type: type, offset: offset, byteCount: byteCount)
    }

    // MARK: Tensors

    public var tensorNames: [String] { tensorInfos.map(\.name) }

    public func tensorInfo(_ name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensorInfos[$0] }
    }

    public func shape(of name: String) -> [Int]? {
        tensorInfo(name)?.shape
    }

    private func requireInfo(_ name: String) throws -> GGUFTensorInfo {
        guard let info = tensorInfo(name) else {
            throw ModelFormatError(path, "no tensor named \(name)")
        }
        return info
    }

    /// The tensor's stored bytes, still in its ggml type; valid only while this `GGUFFile` is alive.
    public func rawBytes(of name: String) throws -> UnsafeRawBufferPointer {
        let info = try requireInfo(name)
        let start = dataOffset + info.offset
        return UnsafeRawBufferPointer(rebasing: file.bytes[start ..< start + info.byteCount])
    }

    /// The tensor dequantised to float32, shaped outermost dimension first.
    public func tensor(_ name: String) throws -> Tensor {
        let info = try requireInfo(name)
        guard info.type.canDequantize else {
            throw ModelFormatError(path, "tensor \(name) has type \(info.type), which cannot be dequantised yet")
        }
        let source = try rawBytes(of: name)
        let values = [Float](unsafeUninitializedCapacity: info.elementCount) { buffer, initialized in
            info.type.dequantize(source, into: buffer)
            initialized = buffer.count
        }
        return Tensor(shape: info.shape, data: values)
    }

    // MARK: Metadata

    public func value(_ key: String) -> GGUFValue? { metadata[key] }

    /// Metadata values of a given kind; nil when the key is absent or holds another kind.
    public func string(_ key: String) -> String? { metadata[key]?.stringValue }
    public func int(_ key: String) -> Int? { metadata[key]?.intValue }
    public func float(_ key: String) -> Float? { metadata[key]?.floatValue }
    public func bool(_ key: String) -> Bool? { metadata[key]?.boolValue }

    public func stringArray(_ key: String) -> [String]? {
        guard case .array(.string, let values)? = metadata[key] else { return nil }
        return values.compactMap(\.stringValue)
    }

    public func intArray(_ key: String) -> [Int]? {
        guard let values = metadata[key]?.arrayValue else { return nil }
        let ints = values.compactMap(\.intValue)
        return ints.count == values.count ? ints : nil
    }

    public func floatArray(_ key: String) -> [Float]? {
        guard let values = metadata[key]?.arrayValue else { return nil }
        let floats = values.compactMap(\.floatValue)
        return floats.count == values.count ? floats : nil
    }

    /// The number of elements of an array value without converting them.
    public func arrayCount(_ key: String) -> Int? { metadata[key]?.arrayValue?.count }
}
