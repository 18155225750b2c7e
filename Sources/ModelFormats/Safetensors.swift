import Foundation

/// A safetensors element type. All of the format's byte-sized types are known, so a checkpoint with
/// integer buffers still opens; only F32, F16 and BF16 convert to float32.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8E5M2 = "F8_E5M2", f8E4M3 = "F8_E4M3"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32", f64 = "F64", i64 = "I64", u64 = "U64"

    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3: 1
        case .i16, .u16, .f16, .bf16: 2
        case .i32, .u32, .f32: 4
        case .f64, .i64, .u64: 8
        }
    }

    /// The ggml type with the same element encoding, whose decoder converts it.
    var floatEncoding: GGMLType? {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        default: nil
        }
    }
}

public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    /// Outermost dimension first, as stored.
    public let shape: [Int]
    /// Byte range within the data section (after the 8-byte length and the JSON header).
    public let dataRange: Range<Int>
}

/// One `.safetensors` file, memory-mapped.
///
/// Layout: an unsigned 64-bit little-endian header length N, N bytes of JSON mapping tensor names
/// to `{"dtype", "shape", "data_offsets": [begin, end]}` (plus an optional `__metadata__` object of
/// strings), then the data section. Like the reference implementation, the tensors must tile the
/// data section exactly: no gaps, no overlaps, nothing left over.
public final class SafetensorsFile: WeightSource, @unchecked Sendable {
    public let path: String
    /// Tensors in data order.
    public let tensorInfos: [SafetensorsTensorInfo]
    /// The header's `__metadata__` entries.
    public let metadata: [String: String]
    public let dataOffset: Int

    private let file: MappedFile
    private let tensorIndex: [String: Int]

    /// The reference implementation refuses headers over 100 MB; so do we, before parsing one.
    public static let maxHeaderBytes = 100_000_000

    public convenience init(url: URL) throws {
        try self.init(file: MappedFile(url: url))
    }

    init(file: MappedFile) throws {
        self.file = file
        path = file.path
        var reader = ByteReader(file.bytes, path: file.path)
        let headerLength = try reader.read(UInt64.self, "header length")
        guard headerLength <= UInt64(reader.remaining) else {
            throw reader.error("header length \(headerLength) is more than the \(reader.remaining) bytes after it")
        }
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw reader.error("header length \(headerLength) exceeds the \(Self.maxHeaderBytes)-byte limit")
        }
        let headerBytes = try reader.slice(Int(headerLength), "header")
        dataOffset = reader.offset
        let dataBytes = reader.remaining

        guard headerBytes.first == UInt8(ascii: "{") else {
            throw reader.error("header does not start with '{'")
        }
        guard let header = (try? JSONSerialization.jsonObject(with: Data(headerBytes))) as? [String: Any] else {
            throw reader.error("header is not valid UTF-8 JSON")
        }

        var metadata: [String: String] = [:]
        var infos: [SafetensorsTensorInfo] = []
        for (name, entry) in header {
            if name == "__metadata__" {
                guard let strings = entry as? [String: String] else {
                    throw reader.error("__metadata__ must map strings to strings")
                }
                metadata = strings
                continue
            }
            infos.append(try Self.tensorInfo(name, entry, reader))
        }
        infos.sort { ($0.dataRange.lowerBound, $0.dataRange.upperBound) < ($1.dataRange.lowerBound, $1.dataRange.upperBound) }

        var end = 0
        for info in infos {
            guard info.dataRange.upperBound <= dataBytes else {
                throw reader.error("tensor \(info.name) at data offsets \(info.dataRange) runs past the end of the \(dataBytes)-byte data section: truncated")
            }
            guard info.dataRange.lowerBound == end else {
                let problem = info.dataRange.lowerBound < end ? "overlaps the tensor before it" : "leaves a gap before it"
                throw reader.error("tensor \(info.name) at data offsets \(info.dataRange) \(problem) (previous tensor ends at \(end))")
            }
            end = info.dataRange.upperBound
        }
        guard end == dataBytes else {
            throw reader.error("tensors cover \(end) bytes of data, the file has \(dataBytes)")
        }
        tensorInfos = infos
        self.metadata = metadata
        tensorIndex = Dictionary(uniqueKeysWithValues: infos.enumerated().map { ($1.name, $0) })
    }

    private static func tensorInfo(_ name: String, _ entry: Any, _ reader: ByteReader) throws -> SafetensorsTensorInfo {
        guard let fields = entry as? [String: Any] else {
            throw reader.error("tensor \(name) is not a JSON object")
        }
        guard let dtypeName = fields["dtype"] as? String else {
            throw reader.error("tensor \(name) has no dtype")
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw reader.error("tensor \(name) has unknown dtype \(dtypeName)")
        }
        guard let rawShape = fields["shape"] as? [Any] else {
            throw reader.error("tensor \(name) has no shape")
        }
        let shape = try rawShape.map { value -> Int in
            guard let dimension = jsonInteger(value), dimension >= 0 else {
                throw reader.error("tensor \(name) shape \(rawShape) is not a list of non-negative integers")
            }
            return dimension
        }
        guard let offsets = fields["data_offsets"] as? [Any], offsets.count == 2,
              let begin = jsonInteger(offsets[0]), let end = jsonInteger(offsets[1]), begin >= 0, begin <= end else {
            throw reader.error("tensor \(name) data_offsets \(fields["data_offsets"] ?? "missing") are not two integers [begin, end] with begin <= end")
        }
        var elements = 1
        for dimension in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw reader.error("tensor \(name) shape \(shape) has more elements than fit in 64 bits") }
            elements = product
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, bytes == end - begin else {
            throw reader.error("tensor \(name) shape \(shape) of \(dtype.rawValue) needs \(overflow ? "more than 2^63" : "\(bytes)") bytes, its data_offsets span \(end - begin)")
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataRange: begin ..< end)
    }

    /// A JSON number that is an exact integer (JSONSerialization yields NSNumber; booleans excluded).
    private static func jsonInteger(_ value: Any) -> Int? {
        guard let number = value as? NSNumber, !isJSONBool(number) else { return nil }
        if let exact = value as? Int { return exact }
        return Int(exactly: number.doubleValue)
    }

    // MARK: Tensors

    public var tensorNames: [String] { tensorInfos.map(\.name) }

    public func tensorInfo(_ name: String) -> SafetensorsTensorInfo? {
        tensorIndex[name].map { tensorInfos[$0] }
    }

    public func shape(of name: String) -> [Int]? { tensorInfo(name)?.shape }

    /// The tensor's stored bytes; valid only while this object is alive.
    public func rawBytes(of name: String) throws -> UnsafeRawBufferPointer {
        guard let info = tensorInfo(name) else { throw ModelFormatError(path, "no tensor named \(name)") }
        return UnsafeRawBufferPointer(rebasing: file.bytes[(dataOffset + info.dataRange.lowerBound) ..< (dataOffset + info.dataRange.upperBound)])
    }

    public func tensor(_ name: String) throws -> Tensor {
        guard let info = tensorInfo(name) else { throw ModelFormatError(path, "no tensor named \(name)") }
        guard let encoding = info.dtype.floatEncoding else {
            throw ModelFormatError(path, "tensor \(name) has dtype \(info.dtype.rawValue), which does not convert to float32")
        }
        let source = try rawBytes(of: name)
        let count = info.shape.reduce(1, *)
        let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            encoding.dequantize(source, into: buffer)
            initialized = count
        }
        return Tensor(shape: info.shape, data: values)
    }
}

/// Whether a JSONSerialization number came from `true`/`false`.
func isJSONBool(_ number: NSNumber) -> Bool {
    #if canImport(Darwin)
    return CFGetTypeID(number) == CFBooleanGetTypeID()
    #else
    return type(of: number) == type(of: NSNumber(value: true))
    #endif
}

/// The weights of a Hugging Face checkpoint: one `.safetensors` file, a sharded set listed by
/// `model.safetensors.index.json`, or every `.safetensors` file of a folder, seen as one source.
public final class SafetensorsCheckpoint: WeightSource, @unchecked Sendable {
    public let path: String
    public let files: [SafetensorsFile]
    public let tensorNames: [String]
    private let owner: [String: Int]

    public static let indexFileName = "model.safetensors.index.json"

    /// - Parameter url: a `.safetensors` file, an index JSON, or a folder holding either.
    public init(url: URL) throws {
        path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ModelFormatError(url.path, "no such file or folder")
        }
        let folder: URL
        let shardNames: [String]
        var weightMap: [String: String]?
        if isDirectory.boolValue {
            folder = url
            let index = url.appendingPathComponent(Self.indexFileName)
            if FileManager.default.fileExists(atPath: index.path) {
                (shardNames, weightMap) = try Self.readIndex(index)
            } else {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
                shardNames = names.filter { $0.hasSuffix(".safetensors") }.sorted()
                guard !shardNames.isEmpty else {
                    throw ModelFormatError(url.path, "no .safetensors files and no \(Self.indexFileName)")
                }
            }
        } else {
            folder = url.deletingLastPathComponent()
            if url.pathExtension == "json" {
                (shardNames, weightMap) = try Self.readIndex(url)
            } else {
                shardNames = [url.lastPathComponent]
            }
        }

        files = try shardNames.map { try SafetensorsFile(url: folder.appendingPathComponent($0)) }
        var owner: [String: Int] = [:]
        var names: [String] = []
        for (number, file) in files.enumerated() {
            for name in file.tensorNames {
                if let other = owner.updateValue(number, forKey: name) {
                    throw ModelFormatError(file.path, "tensor \(name) is also in \(files[other].path)")
                }
                names.append(name)
            }
        }
        if let weightMap {
            for (name, shard) in weightMap.sorted(by: { $0.key < $1.key }) where owner[name].map({ shardNames[$0] }) != shard {
                throw ModelFormatError(url.path, "weight_map puts tensor \(name) in \(shard), which does not hold it")
            }
        }
        self.owner = owner
        tensorNames = names
    }

    /// The shard file names an index lists (each once, sorted) and its weight map.
    private static func readIndex(_ url: URL) throws -> ([String], [String: String]) {
        let data: Data
        data = try RegularFile.contents(of: url)
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelFormatError(url.path, "not a JSON object")
        }
        guard let weightMap = object["weight_map"] as? [String: String], !weightMap.isEmpty else {
            throw ModelFormatError(url.path, "no weight_map of tensor names to file names")
        }
        let folder = url.deletingLastPathComponent()
        var shards: [String] = []
        for shard in weightMap.values.sorted() where !shards.contains(shard) {
            // Shards are plain file names next to the index; anything else could point outside the model.
            guard !shard.isEmpty, !shard.contains("/"), shard != ".", shard != ".." else {
                throw ModelFormatError(url.path, "weight_map names \(shard.debugDescription), which is not a file name in the same folder")
            }
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent(shard).path) else {
                throw ModelFormatError(url.path, "weight_map names \(shard), which does not exist")
            }
            shards.append(shard)
        }
        return (shards, weightMap)
    }

    private func file(holding name: String) throws -> SafetensorsFile {
        guard let number = owner[name] else { throw ModelFormatError(path, "no tensor named \(name)") }
        return files[number]
    }

    public func tensorInfo(_ name: String) -> SafetensorsTensorInfo? {
        owner[name].flatMap { files[$0].tensorInfo(name) }
    }

    public func shape(of name: String) -> [Int]? { tensorInfo(name)?.shape }

    public func tensor(_ name: String) throws -> Tensor {
        try file(holding: name).tensor(name)
    }

    /// The tensor's stored bytes; valid only while this object is alive.
    public func rawBytes(of name: String) throws -> UnsafeRawBufferPointer {
        try file(holding: name).rawBytes(of: name)
    }
}
