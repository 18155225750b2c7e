import ModelFormats

extension ArchitectureFamily {
    public static let qwen3 = ArchitectureFamily(rawValue: "qwen3")
}

/// Qwen3: the Llama block (Llama.swift) with each head of q and k RMS-normalised (`q_norm`,
/// `k_norm`, gains of d_head) before rotary embedding; `attention_bias` covers all four
/// projections, and its head size may differ from d_model / n_heads. Like Qwen2, GGUF files keep
/// HF's Q/K row order. Tensor names are Llama's.
///
/// The `hook_q` / `hook_k` values of a Qwen3 model are taken after this norm: they are the
/// vectors that rotary embedding turns into `hook_rot_q` / `hook_rot_k`.
enum Qwen3Family: ModelFamily {
    static let architecture = ArchitectureFamily.qwen3
    static let summary = "Qwen3 (dense)"
    static let modelTypes = ["qwen3"]
    static let huggingFaceClasses = ["Qwen3ForCausalLM"]
    static let ggufArchitectures = ["qwen3"]
    static let capabilities = ModelCapabilities(
        positions: .rotary, norm: .rms, activation: .gatedSiLU, biases: .setting, queryKeyNorm: true,
        slidingWindow: false, ropeScalings: ["linear", "yarn"])

    static func variant(_ config: ModelConfig) -> LlamaFamily.Variant {
        LlamaFamily.Variant(queryKeyValueBias: config.attentionBias, outputBias: config.attentionBias,
                            queryKeyNorm: true, ggufPermutesQueryKey: false)
    }

    static func config(gguf: GGUFMetadata) throws -> ModelConfig {
        try gguf.standardConfig(architecture, normEpsKey: "attention.layer_norm_rms_epsilon", rotary: true)
    }

    /// transformers' Qwen3Config: head_dim 128 and context 32768 by default.
    static func config(huggingFace json: HFConfig, name: String) throws -> ModelConfig {
        try LlamaFamily.refuseLayerSlidingWindow(json)
        return try LlamaFamily.huggingFaceConfig(json, name: name, architecture: architecture,
                                                 ropeScalings: capabilities.ropeScalings, defaultHeadDim: 128, defaultContext: 32768,
                                                 attentionBias: nil, slidingWindow: nil)
    }

    static func globalTensors(_ config: ModelConfig, gguf: Bool, source: any WeightSource) -> [(String, [Int])] {
        LlamaFamily.globalTensors(config, gguf: gguf, source: source)
    }

    static func layerTensor(_ layer: Int, _ config: ModelConfig, gguf: Bool, source: any WeightSource) -> (String, [Int]) {
        LlamaFamily.layerTensor(layer, config, gguf: gguf, source: source)
    }

    static func load(_ reader: WeightReader, config: ModelConfig) throws -> ModelWeights {
        try LlamaFamily.load(reader, config: config, variant: variant(config))
    }
}
