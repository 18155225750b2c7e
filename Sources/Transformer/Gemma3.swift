import ModelFormats

/// Gemma 3 (experimental wiring on the old configuration).
enum Gemma3Family {
    static func load(_ reader: WeightReader, config: ModelConfig) throws -> ModelWeights {
        let names = TensorNames(gguf: reader.isGGUF)
        let d = config.dModel, dHead = config.dHead
        let qDim = config.nHeads * dHead, kvDim = config.nKVHeads * dHead

        /// Gemma's RMSNorm gain, 1 + weight. A GGUF stores 1 + weight already; it is taken back to
        /// the weight first, in float32, as transformers' loader does, so that the gains are equal.
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
            layers.append(LayerWeights(
                attentionNorm: try norm(names.layer(i, .attentionNorm)),
                qkv: Linear(outputs: qDim + 2 * kvDim, inputs: d,
                            weight: WeightMatrix.stacking([try reader.matrix(names.layer(i, .query), qDim, d), try reader.matrix(names.layer(i, .key), kvDim, d), try reader.matrix(names.layer(i, .value), kvDim, d)]),
                            bias: qkvBias[0].map { $0 + qkvBias[1]! + qkvBias[2]! }),
                queryNorm: try gain(names.layer(i, .queryNorm), count: dHead),
                keyNorm: try gain(names.layer(i, .keyNorm), count: dHead),
                output: Linear(outputs: d, inputs: qDim, weight: try reader.matrix(names.layer(i, .output), d, qDim),
                               bias: try bias(.output, d)),
                mlpNorm: try norm(names.layer(i, .mlpNorm)),
                mlp: .gatedGELU(
                    gateUp: Linear(outputs: 2 * config.dFF, inputs: d,
                                   weight: WeightMatrix.stacking([try reader.matrix(names.layer(i, .gate), config.dFF, d),
                                                                  try reader.matrix(names.layer(i, .up), config.dFF, d)]), bias: nil),
                    down: Linear(outputs: d, inputs: config.dFF, weight: try reader.matrix(names.layer(i, .down), d, config.dFF), bias: nil)),
                postAttentionNorm: try norm(names.layer(i, .postAttentionNorm)),
                postMLPNorm: try norm(names.layer(i, .postMLPNorm))))
        }
        let embedding = try reader.matrix(names.tokenEmbedding, config.vocabSize, d)
        return ModelWeights(
            tokenEmbedding: embedding, positionEmbedding: nil, layers: layers,
            finalNorm: try norm(names.finalNorm),
            lmHead: config.tieWordEmbeddings ? embedding : try reader.matrix(names.lmHead, config.vocabSize, d),
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
