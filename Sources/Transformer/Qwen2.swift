import ModelFormats

extension ArchitectureFamily {
    public static let qwen2 = ArchitectureFamily(rawValue: "qwen2")
}

/// Qwen2 and Qwen2.5: the Llama block (Llama.swift) with biases on the q, k and v projections
/// (never on the output projection). llama.cpp runs Qwen2 with the half-split ("NeoX") rotary
/// layout, so its converter leaves the Q and K rows in HF order. Tensor names are Llama's.
enum Qwen2Family: ModelFamily {
    static let architecture = ArchitectureFamily.qwen2
    static let summary = "Qwen2, Qwen2.5"
    static let modelTypes = ["qwen2"]
    static let huggingFaceClasses = ["Qwen2ForCausalLM"]
    static let ggufArchitectures = ["qwen2"]
    static let capabilities = ModelCapabilities(
        positions: .rotary, norm: .rms, activation: .gatedSiLU, biases: .queryKeyValue, queryKeyNorm: false,
        slidingWindow: false, ropeScalings: ["linear", "yarn"])

    static let variant = LlamaFamily.Variant(queryKeyValueBias: true, outputBias: false, queryKeyNorm: false,
                                             ggufPermutesQueryKey: false)

    static func config(gguf: GGUFMetadata) throws -> ModelConfig {
        try gguf.standardConfig(architecture, normEpsKey: "attention.layer_norm_rms_epsilon", rotary: true)
    }

    /// transformers' Qwen2Config: context 32768 by default, q/k/v biases always.
    static func config(huggingFace json: HFConfig, name: String) throws -> ModelConfig {
        try LlamaFamily.refuseLayerSlidingWindow(json)
        return try LlamaFamily.huggingFaceConfig(json, name: name, architecture: architecture,
                                                 ropeScalings: capabilities.ropeScalings, defaultHeadDim: nil, defaultContext: 32768,
                                                 attentionBias: true, slidingWindow: nil)
    }

    static func globalTensors(_ config: ModelConfig, gguf: Bool, source: any WeightSource) -> [(String, [Int])] {
        LlamaFamily.globalTensors(config, gguf: gguf, source: source)
    }

    static func layerTensor(_ layer: Int, _ config: ModelConfig, gguf: Bool, source: any WeightSource) -> (String, [Int]) {
        LlamaFamily.layerTensor(layer, config, gguf: gguf, source: source)
    }

    static func load(_ reader: WeightReader, config: ModelConfig) throws -> ModelWeights {
        try LlamaFamily.load(reader, config: config, variant: variant)
    }
}
