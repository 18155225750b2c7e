import ModelFormats

extension ArchitectureFamily {
    public static let gpt2 = ArchitectureFamily(rawValue: "gpt2")
}

/// GPT-2: learned absolute positions added to the token embedding, LayerNorm with biases, one fused
/// q/k/v projection, a GELU MLP, and an LM head tied to the token embedding. Each block is
///
///     h = x + attn.c_proj(attention(split(attn.c_attn(ln_1(x)))))
///     y = h + mlp.c_proj(gelu_new(mlp.c_fc(ln_2(h))))
///
/// HF stores these projections as `Conv1D`, weight [in, out]; llama.cpp's converter transposes them
/// to the [out, in] of a linear layer, which is what the shared forward pass uses.
enum GPT2Family: ModelFamily {
    static let architecture = ArchitectureFamily.gpt2
    static let summary = "GPT-2"
    static let modelTypes = ["gpt2"]
    static let huggingFaceClasses = ["GPT2LMHeadModel"]
    static let ggufArchitectures = ["gpt2"]
    static let capabilities = ModelCapabilities(
        positions: .learned, norm: .layer, activation: .geluTanh, biases: .all, queryKeyNorm: false,
        slidingWindow: false, ropeScalings: [])

    static func config(gguf: GGUFMetadata) throws -> ModelConfig {
        try gguf.standardConfig(architecture, normEpsKey: "attention.layer_norm_epsilon", rotary: false)
    }

    /// transformers' GPT2Config: `n_*` keys; the LM head is always tied to the token embedding.
    static func config(huggingFace json: HFConfig, name: String) throws -> ModelConfig {
        // gelu_new and gelu_pytorch_tanh are the same tanh approximation.
        try json.requireActivation("activation_function", default: "gelu_new", accepted: ["gelu_new", "gelu_pytorch_tanh"])
        for key in ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"] {
            if try json.optionalBool(key) == true { throw ModelFormatError(json.path, "\(key) true is not supported") }
        }
        if try json.optionalBool("scale_attn_weights") == false {
            throw ModelFormatError(json.path, "scale_attn_weights false (unscaled attention) is not supported")
        }
        let keys = ConfigKeyNames(
            layers: "n_layer", width: "n_embd", heads: "n_head", kvHeads: "n_head", headWidth: "n_embd / n_head",
            feedForward: "n_inner", vocabulary: "vocab_size", context: "n_positions", normEps: "layer_norm_epsilon",
            ropeTheta: "none", ropeScaling: "none", slidingWindow: "none")
        let dModel = try json.int("n_embd")
        let nHeads = try json.int("n_head")
        guard nHeads > 0 else { throw ModelFormatError(json.path, "n_head is \(nHeads), must be positive") }
        guard dModel % nHeads == 0 else {
            throw ModelFormatError(json.path, "n_embd \(dModel) is not a multiple of n_head \(nHeads)")
        }
        return try ModelConfig(
            architecture: architecture, name: name,
            nLayers: try json.int("n_layer"), dModel: dModel,
            nHeads: nHeads, nKVHeads: nHeads, dHead: dModel / nHeads,
            dFF: try json.optionalInt("n_inner") ?? 4 * dModel,
            vocabSize: try json.int("vocab_size"),
            contextLength: try json.int("n_positions"),
            normEps: try json.optionalFloat("layer_norm_epsilon") ?? 1e-5,
            ropeTheta: 0,
            tieWordEmbeddings: true,
            attentionBias: true).validated(path: json.path, keys: keys)
    }

    static func globalTensors(_ config: ModelConfig, gguf: Bool, source: any WeightSource) -> [(String, [Int])] {
        let names = TensorNames(gguf: gguf, source: source)
        var tensors = [(names.tokenEmbedding, [config.vocabSize, config.dModel]),
                       (names.positionEmbedding, [config.contextLength, config.dModel]), (names.finalNorm, [config.dModel])]
        if !config.tieWordEmbeddings { tensors.append((names.lmHead, [config.vocabSize, config.dModel])) }
        return tensors
    }

    static func layerTensor(_ layer: Int, _ config: ModelConfig, gguf: Bool, source: any WeightSource) -> (String, [Int]) {
        (TensorNames(gguf: gguf, source: source).layer(layer, .attentionNorm), [config.dModel])
    }

    static func load(_ reader: WeightReader, config: ModelConfig) throws -> ModelWeights {
        let names = TensorNames(reader: reader)
        let d = config.dModel, dFF = config.dFF
        let qkvWidth = (config.nHeads + 2 * config.nKVHeads) * config.dHead

        func linear(_ i: Int, _ part: TensorNames.Part, outputs: Int, inputs: Int) throws -> Linear {
            let name = names.layer(i, part)
            let weight = reader.isGGUF
                ? try reader.matrix(name, outputs, inputs)
                : try reader.transposedMatrix(name, outputs, inputs)
            return Linear(outputs: outputs, inputs: inputs, weight: weight,
                          bias: try reader.vector(names.layer(i, part, bias: true), count: outputs))
        }
        func layerNorm(_ weight: String, _ bias: String) throws -> Norm {
            .layer(gain: try reader.vector(weight, count: d), bias: try reader.vector(bias, count: d), eps: config.normEps)
        }

        var layers: [LayerWeights] = []
        for i in 0 ..< config.nLayers {
            layers.append(LayerWeights(
                attentionNorm: try layerNorm(names.layer(i, .attentionNorm), names.layer(i, .attentionNorm, bias: true)),
                qkv: try linear(i, .queryKeyValue, outputs: qkvWidth, inputs: d),
                queryNorm: nil, keyNorm: nil,
                output: try linear(i, .output, outputs: d, inputs: config.nHeads * config.dHead),
                mlpNorm: try layerNorm(names.layer(i, .mlpNorm), names.layer(i, .mlpNorm, bias: true)),
                mlp: .gelu(up: try linear(i, .up, outputs: dFF, inputs: d),
                           down: try linear(i, .down, outputs: d, inputs: dFF))))
        }

        let embedding = try reader.matrix(names.tokenEmbedding, config.vocabSize, d)
        return ModelWeights(
            tokenEmbedding: embedding,
            positionEmbedding: try reader.matrix(names.positionEmbedding, config.contextLength, d),
            layers: layers,
            finalNorm: try layerNorm(names.finalNorm, names.finalNormBias),
            lmHead: config.tieWordEmbeddings ? embedding : try reader.matrix(names.lmHead, config.vocabSize, d))
    }

    /// GGUF names, or HF names with or without the `transformer.` prefix (the original OpenAI
    /// checkpoints have none).
    struct TensorNames {
        let gguf: Bool
        let prefix: String

        init(reader: WeightReader) {
            self.init(gguf: reader.isGGUF, source: reader.source)
        }

        init(gguf: Bool, source: any WeightSource) {
            self.gguf = gguf
            prefix = source.shape(of: "transformer.wte.weight") != nil ? "transformer." : ""
        }

        enum Part { case attentionNorm, queryKeyValue, output, mlpNorm, up, down }

        var tokenEmbedding: String { gguf ? "token_embd.weight" : prefix + "wte.weight" }
        var positionEmbedding: String { gguf ? "position_embd.weight" : prefix + "wpe.weight" }
        var finalNorm: String { gguf ? "output_norm.weight" : prefix + "ln_f.weight" }
        var finalNormBias: String { gguf ? "output_norm.bias" : prefix + "ln_f.bias" }
        var lmHead: String { gguf ? "output.weight" : "lm_head.weight" }

        func layer(_ i: Int, _ part: Part, bias: Bool = false) -> String {
            let suffix = bias ? "bias" : "weight"
            if gguf {
                let tensor = switch part {
                case .attentionNorm: "attn_norm"
                case .queryKeyValue: "attn_qkv"
                case .output: "attn_output"
                case .mlpNorm: "ffn_norm"
                case .up: "ffn_up"
                case .down: "ffn_down"
                }
                return "blk.\(i).\(tensor).\(suffix)"
            }
            let module = switch part {
            case .attentionNorm: "ln_1"
            case .queryKeyValue: "attn.c_attn"
            case .output: "attn.c_proj"
            case .mlpNorm: "ln_2"
            case .up: "mlp.c_fc"
            case .down: "mlp.c_proj"
            }
            return "\(prefix)h.\(i).\(module).\(suffix)"
        }
    }
}
