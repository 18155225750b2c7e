#!/usr/bin/env python3
"""HF config.json fixtures for ModelConfig, with the expected values read from transformers itself.

Writes Tests/TransformerTests/Fixtures/configs/<case>/config.json and configs/expected.json.
Each case is a config.json as transformers saves it (from a configuration class) or a minimal
hand-written one that relies on the class defaults. The expected hyper-parameters come from the
model transformers builds from that file (on the meta device, so no weights are allocated):
head width from q_proj, biases from q_proj.bias, tying from whether lm_head shares the embedding
matrix, the rotary base from the rotary embedding's config.

Usage: python3 reference/make_config_fixtures.py [OUT_DIR]
"""
import json
import os
import shutil
import sys

import torch
from transformers import (AutoConfig, AutoModelForCausalLM, Gemma3TextConfig, GPT2Config, LlamaConfig,
                          MistralConfig, Qwen2Config, Qwen3Config)

FAMILY = {"LlamaForCausalLM": "llama", "MistralForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2",
          "Qwen3ForCausalLM": "qwen3", "GPT2LMHeadModel": "gpt2", "Gemma3ForCausalLM": "gemma3"}

SAVED = {
    "smollm2-135m": LlamaConfig(
        vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
        num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
        rms_norm_eps=1e-5, rope_theta=100000.0, tie_word_embeddings=True,
        architectures=["LlamaForCausalLM"], name_or_path="HuggingFaceTB/SmolLM2-135M-Instruct"),
    "llama-bias": LlamaConfig(
        vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=8,
        num_key_value_heads=2, head_dim=16, attention_bias=True, architectures=["LlamaForCausalLM"]),
    "mistral": MistralConfig(
        vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=1, rope_theta=1e6, architectures=["MistralForCausalLM"]),
    "qwen2": Qwen2Config(
        vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, rope_theta=1e6, tie_word_embeddings=True, architectures=["Qwen2ForCausalLM"]),
    "qwen3": Qwen3Config(
        vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=32, rope_theta=1e6, tie_word_embeddings=True,
        architectures=["Qwen3ForCausalLM"]),
    # GPT2Config's default bos/eos id 50256 lies outside this vocabulary, which qkprobe refuses.
    "gpt2": GPT2Config(vocab_size=128, n_positions=64, n_embd=32, n_layer=2, n_head=4, bos_token_id=127,
                       eos_token_id=127, architectures=["GPT2LMHeadModel"]),
    # Gemma 3 270M's shape, as transformers 5 saves it (layer_types, rope_parameters per layer type).
    "gemma3-270m": Gemma3TextConfig(
        vocab_size=262144, hidden_size=640, intermediate_size=2048, num_hidden_layers=18, num_attention_heads=4,
        num_key_value_heads=1, head_dim=256, max_position_embeddings=32768, sliding_window=512,
        query_pre_attn_scalar=256, architectures=["Gemma3ForCausalLM"]),
}

# Hand-written: only what each class cannot default, so the defaults are what is tested.
MINIMAL = {
    "llama-minimal": {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 100,
                      "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1,
                      "num_attention_heads": 4},
    "llama-legacy-rope": {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 100,
                          "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1,
                          "num_attention_heads": 4, "rope_theta": 500000.0, "tie_word_embeddings": True},
    "mistral-minimal": {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 100,
                        "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1,
                        "num_attention_heads": 4, "num_key_value_heads": 2},
    "qwen2-minimal": {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 100,
                      "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1,
                      "num_attention_heads": 4, "num_key_value_heads": 4},
    "qwen3-minimal": {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 100,
                      "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1,
                      "num_attention_heads": 4, "num_key_value_heads": 4},
    "gpt2-minimal": {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 100,
                     "n_embd": 32, "n_layer": 1, "n_head": 4, "n_positions": 16, "n_inner": 40},
    "gemma3-minimal": {"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "vocab_size": 100,
                       "num_hidden_layers": 7, "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0},
    # transformers 4's keys: rope_theta, rope_local_base_freq, rope_scaling (global layers only),
    # sliding_window_pattern instead of layer_types.
    "gemma3-legacy": {"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "vocab_size": 100,
                      "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 5, "num_attention_heads": 4,
                      "num_key_value_heads": 2, "head_dim": 8, "query_pre_attn_scalar": 12, "sliding_window": 16,
                      "sliding_window_pattern": 3, "rope_theta": 500000.0, "rope_local_base_freq": 5000.0,
                      "rope_scaling": {"rope_type": "linear", "factor": 8.0}, "bos_token_id": 2, "eos_token_id": 1,
                      "pad_token_id": 0},
}


def expected(folder: str, case: str) -> dict:
    config = AutoConfig.from_pretrained(folder)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    family = FAMILY[config.architectures[0]]
    embedding = model.get_input_embeddings().weight
    tied = model.get_output_embeddings().weight is embedding
    with open(os.path.join(folder, "config.json")) as f:
        # qkprobe's own naming rule (transformers replaces the name with the folder it loads from).
        name = json.load(f).get("_name_or_path") or case
    if family == "gpt2":
        block = model.transformer.h[0]
        n_heads = config.n_head
        return {
            "architecture": family, "name": name, "nLayers": config.n_layer, "dModel": config.n_embd,
            "nHeads": n_heads, "nKVHeads": n_heads, "dHead": config.n_embd // n_heads,
            "dFF": block.mlp.c_fc.nf, "vocabSize": embedding.shape[0],
            "contextLength": config.n_positions, "normEps": block.ln_1.eps, "ropeTheta": 0.0,
            "tieWordEmbeddings": tied, "attentionBias": block.attn.c_attn.bias is not None,
        }
    layer = model.model.layers[0]
    attention = layer.self_attn
    n_heads = config.num_attention_heads
    if family == "gemma3":
        rope = model.model.rotary_emb.config.rope_parameters
        full, local = rope["full_attention"], rope["sliding_attention"]
        result = {
            "architecture": family, "name": name, "nLayers": config.num_hidden_layers,
            "dModel": config.hidden_size, "nHeads": n_heads,
            "nKVHeads": attention.k_proj.out_features // attention.head_dim,
            "dHead": attention.q_proj.out_features // n_heads,
            "dFF": layer.mlp.gate_proj.out_features, "vocabSize": embedding.shape[0],
            "contextLength": config.max_position_embeddings, "normEps": layer.input_layernorm.eps,
            "ropeTheta": float(full["rope_theta"]), "localRopeTheta": float(local["rope_theta"]),
            "tieWordEmbeddings": tied, "attentionBias": attention.q_proj.bias is not None,
            "slidingWindow": config.sliding_window,
            "slidingWindowLayers": [i for i, kind in enumerate(config.layer_types) if kind == "sliding_attention"],
            "queryPreAttentionScalar": float(config.query_pre_attn_scalar),
        }
        assert local.get("rope_type", "default") == "default"
        if full.get("rope_type", "default") == "linear":
            result["ropeScaling"] = {"linear": {"factor": float(full["factor"])}}
        return result
    return {
        "architecture": family, "name": name, "nLayers": config.num_hidden_layers,
        "dModel": config.hidden_size, "nHeads": n_heads,
        "nKVHeads": attention.k_proj.out_features // attention.head_dim,
        "dHead": attention.q_proj.out_features // n_heads,
        "dFF": layer.mlp.gate_proj.out_features, "vocabSize": embedding.shape[0],
        "contextLength": config.max_position_embeddings, "normEps": layer.input_layernorm.variance_epsilon,
        "ropeTheta": float(model.model.rotary_emb.config.rope_parameters["rope_theta"]),
        "tieWordEmbeddings": tied, "attentionBias": attention.q_proj.bias is not None,
        # Mistral's window (Qwen's applies only with use_sliding_window, which qkprobe refuses).
        "slidingWindow": config.sliding_window if family == "llama" and config.model_type == "mistral" else None,
    }


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "Tests/TransformerTests/Fixtures/configs"
    if os.path.isdir(out):
        shutil.rmtree(out)
    results = {}
    for case, config in SAVED.items():
        folder = os.path.join(out, case)
        config.save_pretrained(folder)
        results[case] = expected(folder, case)
    for case, raw in MINIMAL.items():
        folder = os.path.join(out, case)
        os.makedirs(folder)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(raw, f, indent=1)
        results[case] = expected(folder, case)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    for case, values in results.items():
        print(case, values)


if __name__ == "__main__":
    main()
