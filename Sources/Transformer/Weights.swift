import ModelFormats

/// A model's weights, laid out for the shared forward pass: matrices as stored or in float32
/// (WeightMatrix.swift), vectors (norm gains, biases) in float32. Every family's loader
/// (Llama.swift, Qwen2.swift, Qwen3.swift, GPT2.swift) maps its file's tensors onto this.
struct ModelWeights: Sendable {
    /// [vocab, d]
    var tokenEmbedding: WeightMatrix
    /// GPT-2's learned absolute positions, [context, d]; nil for rotary models.
    var positionEmbedding: WeightMatrix?
    var layers: [LayerWeights]
    var finalNorm: Norm
    /// [vocab, d]; the token embedding itself when the model ties them (shared storage).
    var lmHead: WeightMatrix
    /// Gemma multiplies the token embedding by √d (rounded to float32) before the first block.
    var embeddingScale: Float? = nil

    /// Bytes the matrices take in float32, a tied LM head counted once.
    var float32Bytes: Int {
        var matrices = [tokenEmbedding] + (positionEmbedding.map { [$0] } ?? [])
        if !lmHead.sharesStorage(with: tokenEmbedding) { matrices.append(lmHead) }
        for layer in layers {
            matrices += [layer.qkv.weight, layer.output.weight]
            switch layer.mlp {
            case let .gatedSiLU(up, down), let .gelu(up, down), let .gatedGELU(up, down): matrices += [up.weight, down.weight]
            }
        }
        return matrices.reduce(0) { $0 + $1.rows * $1.columns * MemoryLayout<Float>.size }
    }

    /// Every matrix decoded to float32 (the same values the stored form decodes to).
    func decodedToFloat32() -> ModelWeights {
        var copy = self
        copy.tokenEmbedding = tokenEmbedding.decodedToFloat32()
        copy.positionEmbedding = positionEmbedding?.decodedToFloat32()
        copy.lmHead = lmHead.sharesStorage(with: tokenEmbedding)
            ? copy.tokenEmbedding : lmHead.decodedToFloat32()
        copy.layers = layers.map { layer in
            var layer = layer
            layer.qkv.weight = layer.qkv.weight.decodedToFloat32()
            layer.output.weight = layer.output.weight.decodedToFloat32()
            switch layer.mlp {
            case let .gatedSiLU(gateUp, down):
                layer.mlp = .gatedSiLU(gateUp: gateUp.decodedToFloat32(), down: down.decodedToFloat32())
            case let .gelu(up, down):
                layer.mlp = .gelu(up: up.decodedToFloat32(), down: down.decodedToFloat32())
            case let .gatedGELU(gateUp, down):
                layer.mlp = .gatedGELU(gateUp: gateUp.decodedToFloat32(), down: down.decodedToFloat32())
            }
            return layer
        }
        return copy
    }
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
    var weight: WeightMatrix
    var bias: [Float]?

    init(outputs: Int, inputs: Int, weight: WeightMatrix, bias: [Float]?) {
        precondition(weight.rows == outputs && weight.columns == inputs)
        self.outputs = outputs
        self.inputs = inputs
        self.weight = weight
        self.bias = bias
    }

    func decodedToFloat32() -> Linear {
        var copy = self
        copy.weight = weight.decodedToFloat32()
        return copy
    }

    /// A gated MLP's fused [gate; up] product and its activation: `rows` rows of `inputs` floats
    /// → gate and up in `wide` ([rows, outputs]), then `gate(gate) * up` into `y` ([rows, outputs / 2]).
    func applyGated(_ x: UnsafePointer<Float>, rows: Int, wide: UnsafeMutablePointer<Float>, gate: Kernels.Gate,
                    into y: UnsafeMutablePointer<Float>) {
        // The families with gated MLPs have no gate/up biases, and their loaders make none.
        precondition(bias == nil, "a gated MLP with biases")
        let hidden = outputs / 2
        weight.multiplyGated(x, rows: rows, into: wide) { units in
            Kernels.gated(gate, wide, rows: rows, width: hidden, units: units, into: y)
        }
    }

    /// `rows` rows of `inputs` floats → `rows` rows of `outputs` floats (`outputStride` apart).
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, outputStride: Int? = nil) {
        let ldc = outputStride ?? outputs
        weight.multiply(x, rows: rows, into: y, ldc: ldc)
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
        forEachRow(rows: rows) { row, normalize in
            normalize(x + row * width, width, y + row * width)
        }
    }

    /// `x += sum`, then normalises each row of the new `x` into `y`: the residual add and the norm
    /// after it in one step, each row normalised while it is still in cache. The same operations
    /// in the same order as `Kernels.add` then `apply`, so the same bits.
    func addThenApply(_ sum: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, rows: Int, width: Int,
                      normalizedInto y: UnsafeMutablePointer<Float>) {
        forEachRow(rows: rows) { row, normalize in
            Kernels.addRow(sum + row * width, into: x + row * width, count: width)
            normalize(x + row * width, width, y + row * width)
        }
    }

    /// Runs `body(row, normalize)` for every row, spread over the cores for long inputs;
    /// `normalize(x, width, y)` normalises one row.
    private func forEachRow(
        rows: Int,
        _ body: (Int, (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>) -> Void) -> Void
    ) {
        switch self {
        case let .rms(gain, eps):
            gain.withUnsafeBufferPointer { g in
                Kernels.forEachChunk(of: rows, minimumChunk: Kernels.rowsPerThread) { range in
                    for row in range {
                        body(row) { Kernels.rmsNorm($0, count: $1, gain: g.baseAddress!, eps: eps, into: $2) }
                    }
                }
            }
        case let .layer(gain, bias, eps):
            gain.withUnsafeBufferPointer { g in
                bias.withUnsafeBufferPointer { b in
                    Kernels.forEachChunk(of: rows, minimumChunk: Kernels.rowsPerThread) { range in
                        for row in range {
                            body(row) { Kernels.layerNorm($0, count: $1, gain: g.baseAddress!, bias: b.baseAddress!, eps: eps, into: $2) }
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
        try check(name, shape: shape)
        return try source.tensor(name).data
    }

    private func check(_ name: String, shape: [Int]) throws {
        guard let actual = source.shape(of: name) else {
            throw ModelFormatError(source.path, "missing tensor \(name) (expected shape \(shape))")
        }
        guard actual == shape else {
            throw ModelFormatError(source.path, "tensor \(name) has shape \(actual), expected \(shape)")
        }
    }

    func vector(_ name: String, count: Int) throws -> [Float] {
        try tensor(name, shape: [count])
    }

    /// A [rows, columns] matrix, kept as stored (mapped) when the file's form allows, else in float32.
    /// `permutedHeadSize`: the rows are llama.cpp's interleaved q or k heads of this size, read back in HF order.
    func matrix(_ name: String, _ rows: Int, _ columns: Int, permutedHeadSize: Int? = nil) throws -> WeightMatrix {
        try check(name, shape: [rows, columns])
        if let stored = try source.storedTensor(name) {
            return WeightMatrix(stacking: [(stored, permutedHeadSize)], columns: columns)
        }
        var values = try source.tensor(name).data
        if let headSize = permutedHeadSize {
            values = LlamaFamily.ggufQueryKeyRowsToHF(values, heads: rows / headSize, headDim: headSize, columns: columns)
        }
        return WeightMatrix(float32: values, rows: rows, columns: columns)
    }

    /// A matrix stored transposed, [columns, rows], returned as [rows, columns] in float32
    /// (GPT-2's Conv1D weights are [in, out]: rows cannot be read in place).
    func transposedMatrix(_ name: String, _ rows: Int, _ columns: Int) throws -> WeightMatrix {
        let stored = try tensor(name, shape: [columns, rows])
        var result = [Float](repeating: 0, count: stored.count)
        for r in 0 ..< rows {
            for c in 0 ..< columns {
                result[r * columns + c] = stored[c * rows + r]
            }
        }
        return WeightMatrix(float32: result, rows: rows, columns: columns)
    }
}
