import ModelFormats

/// A model's weights in float32, laid out for the shared forward pass. Every family's loader
/// (Llama.swift, Qwen2.swift, Qwen3.swift, GPT2.swift) maps its file's tensors onto this.
struct ModelWeights: Sendable {
    /// [vocab, d]
    var tokenEmbedding: [Float]
    /// GPT-2's learned absolute positions, [context, d]; nil for rotary models.
    var positionEmbedding: [Float]?
    var layers: [LayerWeights]
    var finalNorm: Norm
    /// [vocab, d]; the token embedding itself when the model ties them (shared storage).
    var lmHead: [Float]
    /// Gemma multiplies the token embedding by √d (rounded to float32) before the first block.
    var embeddingScale: Float? = nil
}

struct LayerWeights: Sendable {
    var attentionNorm: Norm
    /// q, k and v projections fused into one [qDim + 2·kvDim, d] matrix: one GEMM instead of three.
    var qkv: Linear
    /// Qwen3's per-head RMSNorm gains for q and k, [d_head] each, applied before rotary.
    var queryNorm: [Float]?
    var keyNorm: [Float]?
    var output: Linear
    var mlpNorm: Norm
    var mlp: FeedForward
    /// Gemma 2 and 3 normalise each sublayer's output too, before it joins the residual stream.
    var postAttentionNorm: Norm? = nil
    var postMLPNorm: Norm? = nil
}

/// `y = x · Wᵀ + b` with W stored [out, in], as `torch.nn.Linear` stores it.
struct Linear: Sendable {
    let outputs: Int
    let inputs: Int
    var weight: [Float]
    var bias: [Float]?

    /// `rows` rows of `inputs` floats → `rows` rows of `outputs` floats (`outputStride` apart).
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, outputStride: Int? = nil) {
        let ldc = outputStride ?? outputs
        weight.withUnsafeBufferPointer { w in
            BLAS.parallelGEMM(m: rows, n: outputs, k: inputs, x, lda: inputs, w.baseAddress!, ldb: inputs,
                              transposeB: true, y, ldc: ldc)
        }
        bias?.withUnsafeBufferPointer { b in
            Kernels.addBias(b.baseAddress!, count: outputs, to: y, rowCount: rows, stride: ldc)
        }
    }
}

enum Norm: Sendable {
    case rms(gain: [Float], eps: Float)
    case layer(gain: [Float], bias: [Float], eps: Float)

    /// Normalises `rows` rows of `width` floats, spread over the cores for long inputs.
    func apply(_ x: UnsafePointer<Float>, rows: Int, width: Int, into y: UnsafeMutablePointer<Float>) {
        switch self {
        case let .rms(gain, eps):
            gain.withUnsafeBufferPointer { g in
                Kernels.forEachChunk(of: rows, minimumChunk: Kernels.rowsPerThread) { range in
                    for row in range {
                        Kernels.rmsNorm(x + row * width, count: width, gain: g.baseAddress!, eps: eps, into: y + row * width)
                    }
                }
            }
        case let .layer(gain, bias, eps):
            gain.withUnsafeBufferPointer { g in
                bias.withUnsafeBufferPointer { b in
                    Kernels.forEachChunk(of: rows, minimumChunk: Kernels.rowsPerThread) { range in
                        for row in range {
                            Kernels.layerNorm(x + row * width, count: width, gain: g.baseAddress!,
                                              bias: b.baseAddress!, eps: eps, into: y + row * width)
                        }
                    }
                }
            }
        }
    }
}

enum FeedForward: Sendable {
    /// Llama's SwiGLU: `down(silu(gate(x)) * up(x))`, gate and up fused into one [2F, d] matrix.
    case gatedSiLU(gateUp: Linear, down: Linear)
    /// GPT-2's MLP: `down(gelu_new(up(x)))`.
    case gelu(up: Linear, down: Linear)
    /// Gemma's GeGLU: `down(gelu_tanh(gate(x)) * up(x))`, gate and up fused as in `gatedSiLU`.
    case gatedGELU(gateUp: Linear, down: Linear)

    var hiddenWidth: Int {
        switch self {
        case let .gatedSiLU(_, down), let .gelu(_, down), let .gatedGELU(_, down): down.inputs
        }
    }
}

/// Reads a model file's tensors, checking each against the shape the configuration implies.
struct WeightReader {
    let source: any WeightSource

    /// Whether the tensors carry llama.cpp's GGUF names (`token_embd.weight`, `blk.N.…`) rather
    /// than Hugging Face's; such files also have llama.cpp's layouts.
    var isGGUF: Bool { contains("token_embd.weight") }

    func contains(_ name: String) -> Bool { source.shape(of: name) != nil }

    /// The tensor as float32, after checking that it exists and has `shape` (outermost first).
    func tensor(_ name: String, shape: [Int]) throws -> [Float] {
        guard let actual = source.shape(of: name) else {
            throw ModelFormatError(source.path, "missing tensor \(name) (expected shape \(shape))")
        }
        guard actual == shape else {
            throw ModelFormatError(source.path, "tensor \(name) has shape \(actual), expected \(shape)")
        }
        return try source.tensor(name).data
    }

    func vector(_ name: String, count: Int) throws -> [Float] {
        try tensor(name, shape: [count])
    }

    /// A [rows, columns] matrix.
    func matrix(_ name: String, _ rows: Int, _ columns: Int) throws -> [Float] {
        try tensor(name, shape: [rows, columns])
    }

    /// A matrix stored transposed, [columns, rows], returned as [rows, columns]
    /// (GPT-2's Conv1D weights are [in, out]).
    func transposedMatrix(_ name: String, _ rows: Int, _ columns: Int) throws -> [Float] {
        let stored = try tensor(name, shape: [columns, rows])
        var result = [Float](repeating: 0, count: stored.count)
        for r in 0 ..< rows {
            for c in 0 ..< columns {
                result[r * columns + c] = stored[c * rows + r]
            }
        }
        return result
    }
}
