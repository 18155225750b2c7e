import Foundation
import ModelFormats

extension ArchitectureFamily {
    public static let llama = ArchitectureFamily(rawValue: "llama")
}

/// Llama-like decoders: Llama 2 and 3, Mistral, SmolLM2; Qwen2 and Qwen3 reuse its block
/// (Qwen2.swift, Qwen3.swift). Each block is
///
///     h = x + o_proj(attention(rope(q_proj(a)), rope(k_proj(a)), v_proj(a))),  a = rms_norm(x)
///     y = h + down_proj(silu(gate_proj(b)) * up_proj(b)),                       b = rms_norm(h)
///
/// with grouped-query attention (n_kv_heads ≤ n_heads) and rotary embedding in HF's half-split
/// layout. The LM head is `lm_head` (GGUF `output`), or the token embedding when tied.
enum LlamaFamily: ModelFamily {
    static let architecture = ArchitectureFamily.llama
    static let summary = "Llama 2 and 3.x, Mistral, SmolLM2"
    static let modelTypes = ["llama", "mistral"]
    static let huggingFaceClasses = ["LlamaForCausalLM", "MistralForCausalLM"]
    static let ggufArchitectures = ["llama"]
    static let capabilities = ModelCapabilities(
        positions: .rotary, norm: .rms, activation: .gatedSiLU, biases: .setting, queryKeyNorm: false,
        slidingWindow: true, ropeScalings: ["linear", "llama3", "yarn"])

    static func config(gguf: GGUFMetadata) throws -> ModelConfig {
        try gguf.standardConfig(architecture, normEpsKey: "attention.layer_norm_rms_epsilon", rotary: true)
    }

    /// transformers' LlamaConfig and MistralConfig: the keys, their defaults, and what the runtime
    /// does not compute refused by name.
    static func config(huggingFace json: HFConfig, name: String) throws -> ModelConfig {
        let mistral = try json.optionalString("model_type") == "mistral"
            || (json.object["architectures"] as? [String])?.contains("MistralForCausalLM") == true
        try refuseLayerTypes(json)
        if try json.optionalBool("mlp_bias") == true {
            throw ModelFormatError(json.path, "mlp_bias true (biases on the MLP projections) is not supported")
        }
        // MistralConfig attends over a sliding window of 4096 unless `sliding_window` is null.
        var window: Int?
        if mistral { window = json.object.keys.contains("sliding_window") ? try json.optionalInt("sliding_window") : 4096 }
        return try huggingFaceConfig(json, name: name, architecture: architecture, ropeScalings: capabilities.ropeScalings, defaultHeadDim: nil,
                                     defaultContext: mistral ? 4096 * 32 : 2048, attentionBias: nil, slidingWindow: window)
    }

    /// The keys Llama, Qwen2 and Qwen3 configs share. `defaultHeadDim` nil: d_model / n_heads;
    /// `attentionBias` nil: the `attention_bias` setting (default false).
    static func huggingFaceConfig(_ json: HFConfig, name: String, architecture: ArchitectureFamily, ropeScalings: [String], defaultHeadDim: Int?,
                                  defaultContext: Int, attentionBias: Bool?, slidingWindow: Int?) throws -> ModelConfig {
        let keys = ConfigKeyNames.huggingFace
        try json.requireActivation("hidden_act", default: "silu", accepted: ["silu"])
        try json.refusePartialRotary()
        let dModel = try json.int("hidden_size")
        let nHeads = try json.int("num_attention_heads")
        guard nHeads > 0 else { throw ModelFormatError(json.path, "num_attention_heads is \(nHeads), must be positive") }
        var config = ModelConfig(
            architecture: architecture, name: name,
            nLayers: try json.int("num_hidden_layers"),
            dModel: dModel, nHeads: nHeads,
            nKVHeads: try json.optionalInt("num_key_value_heads") ?? nHeads,
            dHead: try json.optionalInt("head_dim") ?? defaultHeadDim ?? dModel / nHeads,
            dFF: try json.int("intermediate_size"),
            vocabSize: try json.int("vocab_size"),
            contextLength: try json.optionalInt("max_position_embeddings") ?? defaultContext,
            normEps: try json.optionalFloat("rms_norm_eps") ?? 1e-6,
            ropeTheta: try json.ropeTheta() ?? 10000,
            tieWordEmbeddings: try json.optionalBool("tie_word_embeddings") ?? false,
            attentionBias: try attentionBias ?? json.optionalBool("attention_bias") ?? false,
            slidingWindow: slidingWindow)
        config = try config.validated(path: json.path, keys: keys)
        config.ropeScaling = try json.ropeScaling(contextLength: config.contextLength, supported: ropeScalings)
        try config.validatedRotary(path: json.path, keys: keys)
        return config
    }

    /// Qwen2's and Qwen3's `use_sliding_window` puts a window on some layers only; refused until
    /// per-layer windows are computed.
    static func refuseLayerSlidingWindow(_ json: HFConfig) throws {
        if try json.optionalBool("use_sliding_window") == true {
            throw ModelFormatError(json.path, "use_sliding_window true (a sliding window on some layers) is not supported")
        }
        try refuseLayerTypes(json)
    }

    /// `layer_types` other than full attention (sliding or chunked layers) are not computed.
    static func refuseLayerTypes(_ json: HFConfig) throws {
        guard let raw = json.object["layer_types"], !(raw is NSNull) else { return }
        guard let types = raw as? [String] else { throw ModelFormatError(json.path, "key layer_types is \(raw), expected a list of strings") }
        if let other = types.first(where: { $0 != "full_attention" }) {
            throw ModelFormatError(json.path, "layer_types \(other) is not supported (only full_attention layers)")
        }
    }

    static func globalTensors(_ config: ModelConfig, gguf: Bool, source: any WeightSource) -> [(String, [Int])] {
        let names = TensorNames(gguf: gguf)
        var tensors = [(names.tokenEmbedding, [config.vocabSize, config.dModel]), (names.finalNorm, [config.dModel])]
        if !config.tieWordEmbeddings { tensors.append((names.lmHead, [config.vocabSize, config.dModel])) }
        return tensors
    }

    static func layerTensor(_ layer: Int, _ config: ModelConfig, gguf: Bool, source: any WeightSource) -> (String, [Int]) {
        (TensorNames(gguf: gguf).layer(layer, .query), [config.nHeads * config.dHead, config.dModel])
    }

    static func load(_ reader: WeightReader, config: ModelConfig) throws -> ModelWeights {
        try load(reader, config: config, variant: llama(config))
    }

    /// What sets a member of the family apart from Llama itself.
    struct Variant {
        /// q, k and v projections carry biases.
        var queryKeyValueBias: Bool
        /// The output projection carries a bias.
        var outputBias: Bool
        /// Each head of q and k is RMS-normalised before rotary.
        var queryKeyNorm: Bool
        /// llama.cpp's converter reorders the Q and K rows of this family's GGUF files.
        var ggufPermutesQueryKey: Bool
    }

    /// Llama, Mistral, SmolLM2: biases on all four attention projections or none
    /// (`attention_bias`), and Q/K rows permuted in GGUF files.
    static func llama(_ config: ModelConfig) -> Variant {
        Variant(queryKeyValueBias: config.attentionBias, outputBias: config.attentionBias,
                queryKeyNorm: false, ggufPermutesQueryKey: true)
    }

    static func load(_ reader: WeightReader, config: ModelConfig, variant: Variant) throws -> ModelWeights {
        let names = TensorNames(gguf: reader.isGGUF)
        let d = config.dModel, dHead = config.dHead
        let qDim = config.nHeads * dHead, kvDim = config.nKVHeads * dHead
        let unpermute = reader.isGGUF && variant.ggufPermutesQueryKey

        /// q or k bias rows in HF order: llama.cpp's converter interleaved the two halves of each head.
        func queryKeyRows(_ values: [Float], heads: Int) -> [Float] {
            unpermute ? ggufQueryKeyRowsToHF(values, heads: heads, headDim: dHead, columns: 1) : values
        }

        var layers: [LayerWeights] = []
        for i in 0 ..< config.nLayers {
            // Matrices stay as stored; their GGUF q/k rows are read back in HF order as they are decoded.
            let q = try reader.matrix(names.layer(i, .query), qDim, d, permutedHeadSize: unpermute ? dHead : nil)
            let k = try reader.matrix(names.layer(i, .key), kvDim, d, permutedHeadSize: unpermute ? dHead : nil)
            let v = try reader.matrix(names.layer(i, .value), kvDim, d)
            var qkvBias: [Float]?
            if variant.queryKeyValueBias {
                let qb = try reader.vector(names.layer(i, .query, bias: true), count: qDim)
                let kb = try reader.vector(names.layer(i, .key, bias: true), count: kvDim)
                let vb = try reader.vector(names.layer(i, .value, bias: true), count: kvDim)
                qkvBias = queryKeyRows(qb, heads: config.nHeads) + queryKeyRows(kb, heads: config.nKVHeads) + vb
            }
            let qkv = Linear(outputs: qDim + 2 * kvDim, inputs: d, weight: WeightMatrix.stacking([q, k, v]), bias: qkvBias)
            let output = Linear(outputs: d, inputs: qDim, weight: try reader.matrix(names.layer(i, .output), d, qDim),
                                bias: variant.outputBias ? try reader.vector(names.layer(i, .output, bias: true), count: d) : nil)

            let gate = try reader.matrix(names.layer(i, .gate), config.dFF, d)
            let up = try reader.matrix(names.layer(i, .up), config.dFF, d)
            let down = try reader.matrix(names.layer(i, .down), d, config.dFF)

            layers.append(LayerWeights(
                attentionNorm: .rms(gain: try reader.vector(names.layer(i, .attentionNorm), count: d), eps: config.normEps),
                qkv: qkv,
                queryNorm: variant.queryKeyNorm ? try reader.vector(names.layer(i, .queryNorm), count: dHead) : nil,
                keyNorm: variant.queryKeyNorm ? try reader.vector(names.layer(i, .keyNorm), count: dHead) : nil,
                output: output,
                mlpNorm: .rms(gain: try reader.vector(names.layer(i, .mlpNorm), count: d), eps: config.normEps),
                mlp: .gatedSiLU(gateUp: Linear(outputs: 2 * config.dFF, inputs: d, weight: WeightMatrix.stacking([gate, up]), bias: nil),
                                down: Linear(outputs: d, inputs: config.dFF, weight: down, bias: nil))))
        }

        let embedding = try reader.matrix(names.tokenEmbedding, config.vocabSize, d)
        return ModelWeights(
            tokenEmbedding: embedding,
            positionEmbedding: nil,
            layers: layers,
            finalNorm: .rms(gain: try reader.vector(names.finalNorm, count: d), eps: config.normEps),
            lmHead: config.tieWordEmbeddings ? embedding : try reader.matrix(names.lmHead, config.vocabSize, d))
    }

    /// Undoes llama.cpp's `LlamaModel.permute`, which reshapes each head's rows as (2, d/2) and
    /// swaps the axes so that rotary pairs become adjacent rows: GGUF row `2j + t` of a head is
    /// HF row `t · d/2 + j`.
    static func ggufQueryKeyRowsToHF(_ rows: [Float], heads: Int, headDim: Int, columns: Int) -> [Float] {
        let half = headDim / 2
        var result = [Float](repeating: 0, count: rows.count)
        for head in 0 ..< heads {
            for j in 0 ..< half {
                for t in 0 ..< 2 {
                    let from = (head * headDim + 2 * j + t) * columns
                    let to = (head * headDim + t * half + j) * columns
                    result[to ..< to + columns] = rows[from ..< from + columns]
                }
            }
        }
        return result
    }

    /// Tensor names in GGUF files (llama.cpp) and HF checkpoints, which Qwen2 and Qwen3 share.
    struct TensorNames {
        let gguf: Bool

        enum Part { case attentionNorm, query, key, value, output, queryNorm, keyNorm, mlpNorm, gate, up, down }

        var tokenEmbedding: String { gguf ? "token_embd.weight" : "model.embed_tokens.weight" }
        var finalNorm: String { gguf ? "output_norm.weight" : "model.norm.weight" }
        var lmHead: String { gguf ? "output.weight" : "lm_head.weight" }

        func layer(_ i: Int, _ part: Part, bias: Bool = false) -> String {
            let suffix = bias ? "bias" : "weight"
            guard gguf else {
                let module = switch part {
                case .attentionNorm: "input_layernorm"
                case .query: "self_attn.q_proj"
                case .key: "self_attn.k_proj"
                case .value: "self_attn.v_proj"
                case .output: "self_attn.o_proj"
                case .queryNorm: "self_attn.q_norm"
                case .keyNorm: "self_attn.k_norm"
                case .mlpNorm: "post_attention_layernorm"
                case .gate: "mlp.gate_proj"
                case .up: "mlp.up_proj"
                case .down: "mlp.down_proj"
                }
                return "model.layers.\(i).\(module).\(suffix)"
            }
            let tensor = switch part {
            case .attentionNorm: "attn_norm"
            case .query: "attn_q"
            case .key: "attn_k"
            case .value: "attn_v"
            case .output: "attn_output"
            case .queryNorm: "attn_q_norm"
            case .keyNorm: "attn_k_norm"
            case .mlpNorm: "ffn_norm"
            case .gate: "ffn_gate"
            case .up: "ffn_up"
            case .down: "ffn_down"
            }
            return "blk.\(i).\(tensor).\(suffix)"
        }
    }
}
