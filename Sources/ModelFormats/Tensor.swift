/// A dense float32 tensor in row-major order, shaped as PyTorch would shape it
/// (outermost dimension first). GGUF stores dimensions innermost first; readers reverse them.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) does not match \(data.count) values")
        self.shape = shape
        self.data = data
    }

    public var count: Int { data.count }
}

/// Anything that can hand out named weight tensors: a GGUF file, a safetensors checkpoint.
/// Names are the file's own (`blk.0.attn_q.weight` in GGUF, `model.layers.0.self_attn.q_proj.weight`
/// in HF checkpoints); architectures map them.
public protocol WeightSource {
    /// Where the weights come from, for error messages.
    var path: String { get }
    var tensorNames: [String] { get }
    /// The tensor's shape, outermost first, without reading its data.
    func shape(of name: String) -> [Int]?
    /// The tensor dequantised to float32.
    func tensor(_ name: String) throws -> Tensor
    /// The tensor as stored, to be decoded row by row (nil when the source cannot say).
    func storedTensor(_ name: String) throws -> StoredTensor?
}

/// Every problem with a model file. The message is one line that names the file and the problem.
public struct ModelFormatError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let problem: String

    public init(_ path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}
