#!/usr/bin/env python3
"""Reference QK-scores computed the paper's way, with Hugging Face transformers in float32.

For each prompt and each answer option, one full forward pass over prompt + option token;
forward hooks on q_proj / k_proj give q and k before rotary, and the model's own
apply_rotary_pos_emb gives them after. Scores are unscaled dot products
S(l, h, a) = q(l, h)[option token] . k(l, h // (H / Hkv))[anchor].

Two anchors, as qkprobe's --anchor defines them (offsets in characters of the prompt):
- before-cue (the default, the paper's): the last token that ends at or before the start of the
  final answer cue "Answer:" (a token reaching into the cue belongs to the cue);
- question-end: the last token that starts before the end of the question text, i.e. before the
  final cue with the whitespace in front of it removed.
"qk_pre"/"qk_post" use the before-cue anchor; "qk_pre_question_end" the question-end anchor.

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
DEFAULT_GGUF = os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


CUE = "Answer:"


def cue_char_offsets(prompt, cue=CUE):
    """(start of the final cue, end of the question text before it)."""
    start = prompt.rfind(cue)
    if start < 0:
        raise SystemExit(f"no {cue!r} in prompt: {prompt[:60]!r}")
    return start, len(prompt[:start].rstrip())


def anchors(offsets, prompt, cue=CUE):
    """{"before-cue": index, "question-end": index} from a tokenizer's offset mapping."""
    cue_start, question_end = cue_char_offsets(prompt, cue)
    return {
        "before-cue": max(i for i, (a, b) in enumerate(offsets) if b > a and b <= cue_start),
        "question-end": max(i for i, (a, b) in enumerate(offsets) if b > a and a < question_end),
    }


class PaperWayScorer:
    """Scores prompts the paper's way on a transformers Llama-family model."""

    def __init__(self, gguf_path):
        folder, name = os.path.split(gguf_path)
        self.tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        self.model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        self.model.eval()
        cfg = self.model.config
        self.L, self.H, self.Hkv = cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads
        self.Dh = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.H
        self.captured = {}
        self.rotated = []
        for l, block in enumerate(self.model.model.layers):
            block.self_attn.q_proj.register_forward_hook(self._projection_hook("q", l))
            block.self_attn.k_proj.register_forward_hook(self._projection_hook("k", l))
        original_rope = modeling_llama.apply_rotary_pos_emb

        def capturing_rope(q, k, cos, sin, *args, **kwargs):
            q_embed, k_embed = original_rope(q, k, cos, sin, *args, **kwargs)
            self.rotated.append((q_embed[0].detach().clone(), k_embed[0].detach().clone()))  # [heads, pos, Dh]
            return q_embed, k_embed
        modeling_llama.apply_rotary_pos_emb = capturing_rope

    def _projection_hook(self, kind, layer):
        def hook(module, inputs, output):
            self.captured[(kind, layer)] = output[0].detach().clone()  # [pos, heads * Dh]
        return hook

    def score(self, prompt, options, add_special_tokens=True):
        """Token ids, anchor, option ids, option logits, top-5 next tokens and qk[rope][option][layer][head].

        add_special_tokens=False tokenizes a rendered chat as apply_chat_template does."""
        L, H, Hkv, Dh = self.L, self.H, self.Hkv, self.Dh
        encoding = self.tokenizer(prompt, add_special_tokens=add_special_tokens, return_offsets_mapping=True)
        ids = encoding["input_ids"]
        both = anchors(encoding["offset_mapping"], prompt)
        anchor, question_end = both["before-cue"], both["question-end"]
        option_ids = []
        for option in options:
            option_tokens = self.tokenizer(option, add_special_tokens=False)["input_ids"]
            assert len(option_tokens) == 1, (option, option_tokens)
            option_ids.append(option_tokens[0])
        qk = {"pre": [], "post": [], "pre_question_end": []}
        option_logits = top = None
        for option_id in option_ids:
            self.captured.clear()
            self.rotated.clear()
            with torch.no_grad():
                logits = self.model(torch.tensor([ids + [option_id]])).logits[0]
            if option_logits is None:
                # The model's own answer: logits at the last prompt position.
                option_logits = [float(logits[len(ids) - 1, t]) for t in option_ids]
                top = torch.topk(logits[len(ids) - 1], 5)
            for rope in ("pre", "post"):
                per_layer = []
                for l in range(L):
                    if rope == "pre":
                        q = self.captured[("q", l)][len(ids)].view(H, Dh)
                        k = self.captured[("k", l)][anchor].view(Hkv, Dh)
                    else:
                        q = self.rotated[l][0][:, len(ids)]
                        k = self.rotated[l][1][:, anchor]
                    per_layer.append([float(q[h] @ k[h // (H // Hkv)]) for h in range(H)])
                qk[rope].append(per_layer)
            qk["pre_question_end"].append([
                [float(self.captured[("q", l)][len(ids)].view(H, Dh)[h]
                       @ self.captured[("k", l)][question_end].view(Hkv, Dh)[h // (H // Hkv)]) for h in range(H)]
                for l in range(L)])
        return {
            "token_ids": ids, "anchor": anchor, "option_ids": option_ids, "option_logits": option_logits,
            "top_ids": top.indices.tolist(), "top_logits": [float(x) for x in top.values],
            "qk_pre": qk["pre"], "qk_post": qk["post"],
            "anchor_question_end": question_end, "qk_pre_question_end": qk["pre_question_end"],
        }


def main():
    gguf = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_GGUF
    samples = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "Tests/ProbeTests/Fixtures/probe-samples.jsonl")
    out = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "Tests/ProbeTests/Fixtures/probe-reference.json")
    torch.manual_seed(0)
    scorer = PaperWayScorer(gguf)
    records = []
    for line in open(samples, encoding="utf-8"):
        if not line.strip():
            continue
        sample = json.loads(line)
        record = {"id": sample["id"], **scorer.score(sample["prompt"], sample["options"])}
        records.append(record)
        print(sample["id"], len(record["token_ids"]), "tokens, anchor", record["anchor"],
              repr(scorer.tokenizer.decode(record["token_ids"][record["anchor"]])), "question end",
              record["anchor_question_end"], repr(scorer.tokenizer.decode(record["token_ids"][record["anchor_question_end"]])),
              file=sys.stderr)

    with open(out, "w", encoding="utf-8") as f:
        json.dump({
            "made_by": "reference/make_probe_fixtures.py",
            "transformers": transformers.__version__, "torch": torch.__version__,
            "model_file": os.path.basename(gguf), "layers": scorer.L, "heads": scorer.H,
            "kv_heads": scorer.Hkv, "d_head": scorer.Dh, "samples": records,
        }, f)
        f.write("\n")


if __name__ == "__main__":
    main()
