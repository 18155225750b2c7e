import Foundation
import ModelFormats

extension ArchitectureFamily {
    public static let gemma3 = ArchitectureFamily(rawValue: "gemma3")
}

/// Gemma 3 (text; GGUF `gemma3`, HF `gemma3_text`). Each block is
///
///     h = x + post_attention_norm(o_proj(attention(rope(q_norm(q_proj(a))), rope(k_norm(k_proj(a))), v_proj(a))))
///     y = h + post_feedforward_norm(down_proj(gelu_tanh(gate_proj(b)) * up_proj(b))),   b = pre_feedforward_norm(h)
///
/// with a = input_norm(x), every norm an RMSNorm whose gain is 1 + weight, the token embedding
/// multiplied by √d_model, attention scores scaled by `query_pre_attn_scalar`^-1/2, and the LM
/// head tied to the embedding. Layers come in two kinds: sliding-window layers (five of every
/// six by default) attend over the last `sliding_window` positions and turn q and k by the local
/// rotary base (10,000); full-attention layers attend to everything and use the global base
/// (1,000,000) and any rotary scaling. GGUF keeps HF's q/k row order.
///
/// `hook_q` / `hook_k` are taken after q_norm / k_norm, as for Qwen3; `hook_attn_out` and
/// `hook_mlp_out` after the post-norms (what joins the residual stream, as in TransformerLens).
enum Gemma3Family: ModelFamily {
    static let architecture = ArchitectureFamily.gemma3
    static let summary = "Gemma 3 (text: 270M, 1B, and the text part of larger ones)"
    static let modelTypes = ["gemma3_text"]
    static let huggingFaceClasses = ["Gemma3ForCausalLM"]
    static let ggufArchitectures = ["gemma3"]
    static let capabilities = ModelCapabilities(
        positions: .rotary, norm: .rms, activation: .gatedGELUTanh, biases: .setting, queryKeyNorm: true,
        slidingWindow: true, ropeScalings: ["linear"])

    /// transformers' defaults, which llama.cpp hard-codes too: GGUF files store neither.
    static let defaultSlidingWindowPattern = 6
    static let defaultLocalRopeTheta: Float = 10000
    static let defaultGlobalRopeTheta: Float = 1_000_000

    /// Every `pattern`-th layer attends to everything, the others over the window.
    static func slidingLayers(pattern: Int, layers: Int) -> [Int] {
        (0 ..< layers).filter { ($0 + 1) % pattern != 0 }
    }

    /// llama.cpp's metadata: `gemma3.attention.sliding_window`, the global rotary base as
    /// `rope.freq_base`, rotary scaling (global layers only) as `rope.scaling.*`, and, in some
    /// files, `attention.sliding_window_pattern` (a period, or true per sliding layer). The local
    /// base and `query_pre_attn_scalar` are not stored; llama.cpp takes 10,000 and d_head
    /// (d_model / n_heads for the 27B model, 62 layers), as do the HF configurations.
    static func config(gguf: GGUFMetadata) throws -> ModelConfig {
        var config = try gguf.standardConfig(architecture, normEpsKey: "attention.layer_norm_rms_epsilon", rotary: true)
        config.ropeTheta = try gguf.optionalFloat("rope.freq_base") ?? defaultGlobalRopeTheta
        guard config.slidingWindow != nil else {
            throw ModelFormatError(gguf.path, "missing metadata \(gguf.key("attention.sliding_window")) (Gemma 3's local attention window)")
        }
        if case .some(let scaling) = config.ropeScaling, !capabilities.ropeScalings.contains(scaling.typeName) {
            throw ModelFormatError(gguf.path, "rope scaling \(scaling.typeName) is not supported for Gemma 3 (supported: linear)")
        }
        config.slidingWindowLayers = try slidingWindowLayers(gguf, layers: config.nLayers)
        config.localRopeTheta = defaultLocalRopeTheta
        config.queryPreAttentionScalar = Float(config.nLayers == 62 ? config.dModel / config.nHeads : config.dHead)
        return try config.validated(path: gguf.path, keys: .gguf(gguf.arch))
    }

    private static func slidingWindowLayers(_ gguf: GGUFMetadata, layers: Int) throws -> [Int] {
        let key = gguf.key("attention.sliding_window_pattern")
        guard let value = gguf.gguf.value(key) else { return slidingLayers(pattern: defaultSlidingWindowPattern, layers: layers) }
        if let pattern = value.intValue {
            guard pattern > 0 else { throw ModelFormatError(gguf.path, "metadata \(key) is \(pattern), must be positive") }
            return slidingLayers(pattern: pattern, layers: layers)
        }
        guard let flags = value.arrayValue?.compactMap(\.boolValue), flags.count == layers, value.arrayValue?.count == layers else {
            throw ModelFormatError(gguf.path, "metadata \(key) must be an integer or one boolean per layer (\(layers))")
        }
        return flags.indices.filter { flags[$0] }
    }

    /// transformers' Gemma3TextConfig: its keys and defaults; soft-capping, bidirectional
    /// attention and other activations are refused by name.
    static func config(huggingFace json: HFConfig, name: String) throws -> ModelConfig {
        try json.requireActivation("hidden_activation", default: "gelu_pytorch_tanh", accepted: ["gelu_pytorch_tanh"])
        for key in ["final_logit_softcapping", "attn_logit_softcapping"] where json.has(key) {
            throw ModelFormatError(json.path, "\(key) (logit soft-capping) is not supported")
        }
        if try json.optionalBool("use_bidirectional_attention") == true {
            throw ModelFormatError(json.path, "use_bidirectional_attention true is not supported (qkprobe runs causal decoders)")
        }
        try json.refusePartialRotary()
        let keys = ConfigKeyNames.huggingFace
        let nLayers = try json.int("num_hidden_layers")
        // MistralConfig-style: absent means the class default, null means none; Gemma 3's local
        // layers need one.
        let window = json.object.keys.contains("sliding_window") ? try json.optionalInt("sliding_window") : 4096
        guard window != nil else {
            throw ModelFormatError(json.path, "sliding_window is null; Gemma 3's local layers need a window")
        }
        var config = ModelConfig(
            architecture: architecture, name: name, nLayers: nLayers,
            dModel: try json.optionalInt("hidden_size") ?? 2304,
            nHeads: try json.optionalInt("num_attention_heads") ?? 8,
            nKVHeads: try json.optionalInt("num_key_value_heads") ?? 4,
            dHead: try json.optionalInt("head_dim") ?? 256,
            dFF: try json.optionalInt("intermediate_size") ?? 9216,
            vocabSize: try json.optionalInt("vocab_size") ?? 262_208,
            contextLength: try json.optionalInt("max_position_embeddings") ?? 131_072,
            normEps: try json.optionalFloat("rms_norm_eps") ?? 1e-6,
            ropeTheta: defaultGlobalRopeTheta,
            tieWordEmbeddings: try json.optionalBool("tie_word_embeddings") ?? true,
            attentionBias: try json.optionalBool("attention_bias") ?? false,
            slidingWindow: window,
            queryPreAttentionScalar: try json.optionalFloat("query_pre_attn_scalar") ?? 256)
        config.slidingWindowLayers = try slidingWindowLayers(json, layers: nLayers)
        config = try config.validated(path: json.path, keys: keys)
        try readRotary(json, into: &config)
        try config.validatedRotary(path: json.path, keys: keys)
        return config
    }

    /// `layer_types` (transformers 5): `sliding_attention` or `full_attention` per layer; else
    /// `sliding_window_pattern` (transformers 4): every pattern-th layer full attention.
    private static func slidingWindowLayers(_ json: HFConfig, layers: Int) throws -> [Int] {
        if let raw = json.object["layer_types"], !(raw is NSNull) {
            guard let types = raw as? [String], types.count == layers else {
                throw ModelFormatError(json.path, "layer_types must list one type per layer (\(layers), num_hidden_layers)")
            }
            if let other = types.first(where: { $0 != "sliding_attention" && $0 != "full_attention" }) {
                throw ModelFormatError(json.path, "layer_types \(other) is not supported (sliding_attention and full_attention are)")
            }
            return types.indices.filter { types[$0] == "sliding_attention" }
        }
        let pattern = try json.optionalInt("sliding_window_pattern") ?? defaultSlidingWindowPattern
        guard pattern > 0 else { throw ModelFormatError(json.path, "sliding_window_pattern is \(pattern), must be positive") }
        return slidingLayers(pattern: pattern, layers: layers)
    }

    /// The two rotary bases and the global layers' scaling: `rope_parameters` per layer type
    /// (transformers 5), or `rope_theta`, `rope_local_base_freq` and `rope_scaling` (transformers 4).
    private static func readRotary(_ json: HFConfig, into config: inout ModelConfig) throws {
        let parameters = try json.optionalObject("rope_parameters")
        func kind(_ name: String) throws -> [String: Any]? {
            guard let raw = parameters?[name], !(raw is NSNull) else { return nil }
            guard let object = raw as? [String: Any] else {
                throw ModelFormatError(json.path, "rope_parameters.\(name) is \(raw), expected an object")
            }
            return object
        }
        let global = try kind("full_attention"), local = try kind("sliding_attention")
        config.ropeTheta = try global.flatMap { try json.optionalFloat("rope_theta", in: $0) }
            ?? json.optionalFloat("rope_theta") ?? defaultGlobalRopeTheta
        config.localRopeTheta = try local.flatMap { try json.optionalFloat("rope_theta", in: $0) }
            ?? json.optionalFloat("rope_local_base_freq") ?? defaultLocalRopeTheta

        if let local, let type = try json.optionalString("rope_type", in: local), type != "default" {
            throw ModelFormatError(json.path, "rope_parameters.sliding_attention.rope_type \(type) is not supported (the local layers take no scaling)")
        }
        let scaling = try global ?? json.optionalObject("rope_scaling")
        let field = global == nil ? "rope_scaling" : "rope_parameters.full_attention"
        guard let scaling else { return }
        let type = try json.optionalString("rope_type", in: scaling) ?? json.optionalString("type", in: scaling) ?? "default"
        switch type {
        case "default":
            break
        case "linear":
            guard let factor = try json.optionalFloat("factor", in: scaling) else {
                throw ModelFormatError(json.path, "\(field) rope_type linear needs factor")
            }
            config.ropeScaling = .linear(factor: factor)
        default:
            throw ModelFormatError(json.path, "\(field).rope_type \(type) is not supported for Gemma 3 (supported: linear)")
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
        let names = TensorNames(gguf: reader.isGGUF)
        let d = config.dModel, dHead = config.dHead
        let qDim = config.nHeads * dHead, kvDim = config.nKVHeads * dHead

        /// Gemma's RMSNorm gain, 1 + weight. llama.cpp's converter stores 1 + weight; it is taken
        /// back to the weight first, in float32, as transformers' GGUF loader does, so that the
        /// gains round the same.
        func gain(_ name: String, count: Int) throws -> [Float] {
            let stored = try reader.vector(name, count: count)
            return reader.isGGUF ? stored.map { 1 + ($0 - 1) } : stored.map { 1 + $0 }
        }
        func norm(_ name: String) throws -> Norm { .rms(gain: try gain(name, count: d), eps: config.normEps) }

        var layers: [LayerWeights] = []
        for i in 0 ..< config.nLayers {
            func bias(_ part: TensorNames.Part, _ count: Int) throws -> [Float]? {
                config.attentionBias ? try reader.vector(names.layer(i, part, bias: true), count: count) : nil
            }
            let qkvBias = try [bias(.query, qDim), bias(.key, kvDim), bias(.value, kvDim)]
            let qkv = WeightMatrix.stacking([try reader.matrix(names.layer(i, .query), qDim, d),
                                             try reader.matrix(names.layer(i, .key), kvDim, d),
                                             try reader.matrix(names.layer(i, .value), kvDim, d)])
            let gateUp = WeightMatrix.stacking([try reader.matrix(names.layer(i, .gate), config.dFF, d),
                                                try reader.matrix(names.layer(i, .up), config.dFF, d)])
            layers.append(LayerWeights(
                attentionNorm: try norm(names.layer(i, .attentionNorm)),
                qkv: Linear(outputs: qDim + 2 * kvDim, inputs: d, weight: qkv,
                            bias: qkvBias[0].map { $0 + qkvBias[1]! + qkvBias[2]! }),
                queryNorm: try gain(names.layer(i, .queryNorm), count: dHead),
                keyNorm: try gain(names.layer(i, .keyNorm), count: dHead),
                output: Linear(outputs: d, inputs: qDim, weight: try reader.matrix(names.layer(i, .output), d, qDim),
                               bias: try bias(.output, d)),
                mlpNorm: try norm(names.layer(i, .mlpNorm)),
                mlp: .gatedGELU(
                    gateUp: Linear(outputs: 2 * config.dFF, inputs: d, weight: gateUp, bias: nil),
                    down: Linear(outputs: d, inputs: config.dFF, weight: try reader.matrix(names.layer(i, .down), d, config.dFF), bias: nil)),
                postAttentionNorm: try norm(names.layer(i, .postAttentionNorm)),
                postMLPNorm: try norm(names.layer(i, .postMLPNorm))))
        }
        let embedding = try reader.matrix(names.tokenEmbedding, config.vocabSize, d)
        return ModelWeights(
            tokenEmbedding: embedding, positionEmbedding: nil, layers: layers,
            finalNorm: try norm(names.finalNorm),
            lmHead: config.tieWordEmbeddings ? embedding : try reader.matrix(names.lmHead, config.vocabSize, d),
            // transformers: hidden_size ** 0.5 in Python, then float32.
            embeddingScale: Float(Double(d).squareRoot()))
    }

    /// Gemma's tensor names in GGUF files (llama.cpp) and HF checkpoints.
    struct TensorNames {
        let gguf: Bool

        enum Part {
            case attentionNorm, query, key, value, output, queryNorm, keyNorm, postAttentionNorm
            case mlpNorm, gate, up, down, postMLPNorm
        }

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
                case .postAttentionNorm: "post_attention_layernorm"
                case .mlpNorm: "pre_feedforward_layernorm"
                case .gate: "mlp.gate_proj"
                case .up: "mlp.up_proj"
                case .down: "mlp.down_proj"
                case .postMLPNorm: "post_feedforward_layernorm"
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
            case .postAttentionNorm: "post_attention_norm"
            case .mlpNorm: "ffn_norm"
            case .gate: "ffn_gate"
            case .up: "ffn_up"
            case .down: "ffn_down"
            case .postMLPNorm: "post_ffw_norm"
            }
            return "blk.\(i).\(tensor).\(suffix)"
        }
    }
}
