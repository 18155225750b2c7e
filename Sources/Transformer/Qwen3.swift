import ModelFormats

extension LlamaFamily {
    /// Qwen3: the Llama block with each head of q and k RMS-normalised (`q_norm`, `k_norm`, gains
    /// of d_head) before rotary embedding; `attention_bias` covers all four projections, and its
    /// head size may differ from d_model / n_heads. Like Qwen2, GGUF files keep HF's Q/K row order.
    ///
    /// The `hook_q` / `hook_k` values of a Qwen3 model are taken after this norm: they are the
    /// vectors that rotary embedding turns into `hook_rot_q` / `hook_rot_k`.
    static func qwen3(_ config: ModelConfig) -> Variant {
        Variant(queryKeyValueBias: config.attentionBias, outputBias: config.attentionBias,
                queryKeyNorm: true, ggufPermutesQueryKey: false)
    }
}
