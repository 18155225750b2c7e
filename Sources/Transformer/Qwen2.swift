import ModelFormats

extension LlamaFamily {
    /// Qwen2 and Qwen2.5: the Llama block with biases on the q, k and v projections (never on the
    /// output projection). llama.cpp runs Qwen2 with the half-split ("NeoX") rotary layout, so its
    /// converter leaves the Q and K rows in HF order.
    static func qwen2(_ config: ModelConfig) -> Variant {
        Variant(queryKeyValueBias: true, outputBias: false, queryKeyNorm: false, ggufPermutesQueryKey: false)
    }
}
