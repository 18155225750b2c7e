import ModelFormats

/// GPT-2: learned absolute positions added to the token embedding, LayerNorm with biases, one fused
/// q/k/v projection, a GELU MLP, and an LM head tied to the token embedding. Each block is
///
///     h = x + attn.c_proj(attention(split(attn.c_attn(ln_1(x)))))
///     y = h + mlp.c_proj(gelu_new(mlp.c_fc(ln_2(h))))
///
/// HF stores these projections as `Conv1D`, weight [in, out]; llama.cpp's converter transposes them
/// to the [out, in] of a linear layer, which is what the shared forward pass uses.
enum GPT2Family {
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
            gguf = reader.isGGUF
            prefix = reader.contains("transformer.wte.weight") ? "transformer." : ""
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
