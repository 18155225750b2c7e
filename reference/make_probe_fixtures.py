#!/usr/bin/env python3
"""Reference QK-scores computed the paper's way, with Hugging Face transformers in float32.

For each prompt and each answer option, one full forward pass over prompt + option token;
forward hooks on q_proj / k_proj give q and k before rotary, and the model's own
apply_rotary_pos_emb gives them after. Scores are unscaled dot products
S(l, h, a) = q(l, h)[option token] . k(l, h // (H / Hkv))[anchor].

The anchor is the last token that starts before the end of the question line, i.e. before the
final "Answer" with the whitespace in front of it removed.

Usage: python3 reference/make_probe_fixtures.py [GGUF] [SAMPLES.jsonl] [OUT.json]
"""
import json
import os
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.models.llama import modeling_llama

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("QKPROBE_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "qkprobe")
GGUF = sys.argv[1] if len(sys.argv) > 1 else os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
SAMPLES = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "Tests/ProbeTests/Fixtures/probe-samples.jsonl")
OUT = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "Tests/ProbeTests/Fixtures/probe-reference.json")


def anchor_char_offset(prompt):
    answer = prompt.rfind("Answer")
    if answer < 0:
        raise SystemExit(f"no 'Answer' in prompt: {prompt[:60]!r}")
    return len(prompt[:answer].rstrip())


def main():
    torch.manual_seed(0)
    folder, name = os.path.split(GGUF)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model.eval()
    cfg = model.config
    L, H, Hkv = cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads
    Dh = getattr(cfg, "head_dim", None) or cfg.hidden_size // H
    group = H // Hkv

    captured = {}
    def projection_hook(kind, layer):
        def hook(module, inputs, output):
            captured[(kind, layer)] = output[0].detach().clone()  # [pos, heads * Dh]
        return hook
    for l, block in enumerate(model.model.layers):
        block.self_attn.q_proj.register_forward_hook(projection_hook("q", l))
        block.self_attn.k_proj.register_forward_hook(projection_hook("k", l))

    rotated = []
    original_rope = modeling_llama.apply_rotary_pos_emb
    def capturing_rope(q, k, cos, sin, *args, **kwargs):
        q_embed, k_embed = original_rope(q, k, cos, sin, *args, **kwargs)
        rotated.append((q_embed[0].detach().clone(), k_embed[0].detach().clone()))  # [heads, pos, Dh]
        return q_embed, k_embed
    modeling_llama.apply_rotary_pos_emb = capturing_rope

    samples = [json.loads(line) for line in open(SAMPLES, encoding="utf-8") if line.strip()]
    records = []
    for sample in samples:
        prompt = sample["prompt"]
        encoding = tokenizer(prompt, add_special_tokens=True, return_offsets_mapping=True)
        ids = encoding["input_ids"]
        end = anchor_char_offset(prompt)
        anchor = max(i for i, (start, stop) in enumerate(encoding["offset_mapping"]) if stop > start and start < end)
        option_ids = []
        for option in sample["options"]:
            option_tokens = tokenizer(option, add_special_tokens=False)["input_ids"]
            assert len(option_tokens) == 1, (option, option_tokens)
            option_ids.append(option_tokens[0])

        qk = {"pre": [], "post": []}
        option_logits = None
        for a, option_id in enumerate(option_ids):
            captured.clear()
            rotated.clear()
            with torch.no_grad():
                logits = model(torch.tensor([ids + [option_id]])).logits[0]
            if option_logits is None:
                # The model's own answer: logits at the last prompt position.
                option_logits = [float(logits[len(ids) - 1, t]) for t in option_ids]
                top = torch.topk(logits[len(ids) - 1], 5)
            for rope in ("pre", "post"):
                per_layer = []
                for l in range(L):
                    if rope == "pre":
                        q = captured[("q", l)][len(ids)].view(H, Dh)
                        k = captured[("k", l)][anchor].view(Hkv, Dh)
                    else:
                        q = rotated[l][0][:, len(ids)]
                        k = rotated[l][1][:, anchor]
                    per_layer.append([float(q[h] @ k[h // group]) for h in range(H)])
                qk[rope].append(per_layer)
        records.append({
            "id": sample["id"], "token_ids": ids, "anchor": anchor, "option_ids": option_ids,
            "option_logits": option_logits,
            "top_ids": top.indices.tolist(), "top_logits": [float(x) for x in top.values],
            "qk_pre": qk["pre"], "qk_post": qk["post"],
        })
        print(sample["id"], len(ids), "tokens, anchor", anchor, repr(tokenizer.decode(ids[anchor])), file=sys.stderr)

    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({
            "made_by": "reference/make_probe_fixtures.py",
            "transformers": transformers.__version__, "torch": torch.__version__,
            "model_file": name, "layers": L, "heads": H, "kv_heads": Hkv, "d_head": Dh,
            "samples": records,
        }, f)
        f.write("\n")


if __name__ == "__main__":
    main()
