import Foundation
import ModelFormats

// Test support for the model-format and transformer tests: GGUF files written field by field, so
// a test can break exactly one thing. A library target of its own, since test targets cannot share
// sources.

/// Writes bytes to a fresh temporary file (the caller removes it).
public func writeTemporary(_ bytes: Data, name: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qkprobe-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appendingPathComponent(name)
    try bytes.write(to: url)
    return url
}

/// Little-endian serialisation helpers for building model files byte by byte.
extension Data {
    public mutating func append<T: FixedWidthInteger>(le value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    /// A GGUF string: 64-bit length, then the bytes (not necessarily valid UTF-8).
    public mutating func append(ggufString bytes: [UInt8]) {
        append(le: UInt64(bytes.count))
        append(contentsOf: bytes)
    }
}

/// Builds GGUF files field by field, so tests can write valid files and then break exactly one thing.
public struct GGUFBuilder {
    public struct KeyValue {
        public var key: [UInt8]
        public var type: UInt32
        public var payload: Data

        public init(key: String, type: GGUFValueType, payload: Data) {
            self.init(rawKey: Array(key.utf8), type: type.rawValue, payload: payload)
        }

        public init(rawKey: [UInt8], type: UInt32, payload: Data) {
            self.key = rawKey
            self.type = type
            self.payload = payload
        }

        public static func uint32(_ key: String, _ value: UInt32) -> KeyValue {
            var payload = Data()
            payload.append(le: value)
            return KeyValue(key: key, type: .uint32, payload: payload)
        }

        public static func string(_ key: String, _ value: String) -> KeyValue {
            var payload = Data()
            payload.append(ggufString: Array(value.utf8))
            return KeyValue(key: key, type: .string, payload: payload)
        }

        public static func float32(_ key: String, _ value: Float) -> KeyValue {
            var payload = Data()
            payload.append(le: value.bitPattern)
            return KeyValue(key: key, type: .float32, payload: payload)
        }

        public static func uint64(_ key: String, _ value: UInt64) -> KeyValue {
            var payload = Data()
            payload.append(le: value)
            return KeyValue(key: key, type: .uint64, payload: payload)
        }

        public static func stringArray(_ key: String, _ values: [String]) -> KeyValue {
            var payload = Data()
            payload.append(le: GGUFValueType.string.rawValue)
            payload.append(le: UInt64(values.count))
            for value in values { payload.append(ggufString: Array(value.utf8)) }
            return KeyValue(key: key, type: .array, payload: payload)
        }
    }

    public struct TensorEntry {
        public var name: [UInt8]
        public var dims: [UInt64]
        public var type: UInt32
        /// The stored offset; nil means the next aligned offset after the previous tensor.
        public var offset: UInt64?
        public var data: Data

        public init(name: String, dims: [UInt64], type: UInt32, offset: UInt64? = nil, data: Data) {
            self.init(rawName: Array(name.utf8), dims: dims, type: type, offset: offset, data: data)
        }

        public init(rawName: [UInt8], dims: [UInt64], type: UInt32, offset: UInt64? = nil, data: Data) {
            self.name = rawName
            self.dims = dims
            self.type = type
            self.offset = offset
            self.data = data
        }
    }

    public var magic: [UInt8] = Array("GGUF".utf8)
    public var version: UInt32 = 3
    public var keyValues: [KeyValue] = []
    public var tensors: [TensorEntry] = []
    /// Counts written to the header instead of the real ones.
    public var tensorCountOverride: UInt64?
    public var keyValueCountOverride: UInt64?
    public var alignment = 32

    public init(keyValues: [KeyValue] = [], tensors: [TensorEntry] = []) {
        self.keyValues = keyValues
        self.tensors = tensors
    }

    public func build() -> Data {
        var out = Data(magic)
        out.append(le: version)
        out.append(le: tensorCountOverride ?? UInt64(tensors.count))
        out.append(le: keyValueCountOverride ?? UInt64(keyValues.count))
        for kv in keyValues {
            out.append(ggufString: kv.key)
            out.append(le: kv.type)
            out.append(kv.payload)
        }
        var next = 0
        var placed: [(offset: Int, data: Data)] = []
        for tensor in tensors {
            out.append(ggufString: tensor.name)
            out.append(le: UInt32(tensor.dims.count))
            for dim in tensor.dims { out.append(le: dim) }
            out.append(le: tensor.type)
            let offset = tensor.offset ?? UInt64(next)
            out.append(le: offset)
            // Tests write absurd offsets on purpose: such tensors get no data.
            guard offset < 1 << 24 else { continue }
            placed.append((Int(offset), tensor.data))
            next = (Int(offset) + tensor.data.count + alignment - 1) / alignment * alignment
        }
        out.append(Data(count: (alignment - out.count % alignment) % alignment))
        let dataStart = out.count
        for (offset, data) in placed {
            let end = dataStart + offset + data.count
            if out.count < end { out.append(Data(count: end - out.count)) }
            out.replaceSubrange(dataStart + offset ..< end, with: data)
        }
        return out
    }
}
