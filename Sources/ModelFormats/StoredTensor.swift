/// A tensor's bytes as the file stores them, still in their element type, inside the file's
/// memory mapping: a model can keep its weights in this form and decode rows as it needs them.
///
/// `owner` keeps the mapping alive; `bytes` is valid as long as some copy of this value is.
public struct StoredTensor: @unchecked Sendable {
    /// Outermost dimension first.
    public let shape: [Int]
    /// The element type, one that `GGMLType.decode(_:count:into:)` handles (safetensors F32, F16
    /// and BF16 use the ggml type with the same encoding).
    public let type: GGMLType
    public let bytes: UnsafeRawBufferPointer
    public let owner: AnyObject

    public init(shape: [Int], type: GGMLType, bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.shape = shape
        self.type = type
        self.bytes = bytes
        self.owner = owner
    }

    /// Bytes of one row of the innermost dimension (rows of GGUF tensors are whole blocks).
    public var rowBytes: Int {
        let columns = shape.last ?? 1
        return columns / type.blockLayout.elements * type.blockLayout.bytes
    }
}

extension WeightSource {
    /// Sources that cannot hand out their stored bytes answer nil; callers decode with `tensor(_:)`.
    public func storedTensor(_ name: String) throws -> StoredTensor? { nil }
}

extension GGUFFile {
    /// The tensor as stored, when its type can be decoded and its rows are whole blocks.
    public func storedTensor(_ name: String) throws -> StoredTensor? {
        guard let info = tensorInfo(name) else { throw ModelFormatError(path, "no tensor named \(name)") }
        guard info.type.canDequantize else {
            throw ModelFormatError(path, "tensor \(name) has type \(info.type), which cannot be dequantised yet")
        }
        guard let columns = info.ggmlShape.first, columns % info.type.blockLayout.elements == 0 else { return nil }
        return StoredTensor(shape: info.shape, type: info.type, bytes: try rawBytes(of: name), owner: self)
    }
}

extension SafetensorsFile {
    public func storedTensor(_ name: String) throws -> StoredTensor? {
        guard let info = tensorInfo(name) else { throw ModelFormatError(path, "no tensor named \(name)") }
        guard let encoding = info.dtype.floatEncoding else {
            throw ModelFormatError(path, "tensor \(name) has dtype \(info.dtype.rawValue), which does not convert to float32")
        }
        return StoredTensor(shape: info.shape, type: encoding, bytes: try rawBytes(of: name), owner: self)
    }
}

extension SafetensorsCheckpoint {
    public func storedTensor(_ name: String) throws -> StoredTensor? {
        guard let file = files.first(where: { $0.tensorInfo(name) != nil }) else {
            throw ModelFormatError(path, "no tensor named \(name)")
        }
        return try file.storedTensor(name)
    }
}
