import ModelFormats

/// Llama-like decoders: Llama 2 and 3, Mistral, SmolLM2; Qwen2 and Qwen3 are variants of it
/// (Qwen2.swift, Qwen3.swift). Each block is
///
///     h = x + o_proj(attention(rope(q_proj(a)), rope(k_proj(a)), v_proj(a))),  a = rms_norm(x)
///     y = h + down_proj(silu(gate_proj(b)) * up_proj(b)),                       b = rms_norm(h)
///
/// with grouped-query attention (n_kv_heads ≤ n_heads) and rotary embedding in HF's half-split
/// layout. The LM head is `lm_head` (GGUF `output`), or the token embedding when tied.
enum LlamaFamily {
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
