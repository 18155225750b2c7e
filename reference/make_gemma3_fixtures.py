#!/usr/bin/env python3
"""Reference fixtures for Gemma 3 270M (Q4_K_M GGUF), from transformers reading the same file.

    bash scripts/fetch-model.sh gemma3           # the model, into the qkprobe cache
    python3 reference/make_gemma3_fixtures.py [--model PATH] [--datasets DIR]

transformers builds both the tokenizer (`AutoTokenizer.from_pretrained(dir, gguf_file=...)`: Gemma's
SentencePiece BPE, merges rebuilt from the vocabulary's order) and the model
(`AutoModelForCausalLM.from_pretrained(dir, gguf_file=...)`, every tensor dequantised to float32, the
norm gains less the 1 llama.cpp's converter adds) from the GGUF. Writes:

  Tests/TokenizersTests/Fixtures/gemma3-gguf-expected.json
      the tokenizer corpus of make_tokenizer_fixtures.py plus Gemma's own tokens (turn markers,
      whitespace runs, HTML tags), non-Latin scripts included: ids (BOS first), byte offsets,
      decodings, and single-token decodings.
  Tests/TransformerTests/Fixtures/gemma3/reference.{json,bin}
      (layout of make_runtime_fixtures.py) per prompt i: p{i}.ids [T], p{i}.logits_subset [T, S]
      (at the positions p{i}.logits_positions: all of a short prompt, some of a long one; the ids
      in vocab_subset), p{i}.top_ids / p{i}.top_logits [64] (the last
      position's 64 largest logits), p{i}.qkv_positions [P], p{i}.q / rot_q [L, P, H, Dh] (after
      q_norm, before / after rotary), p{i}.k / rot_k / v [L, P, Hkv, Dh]; greedy.prompt,
      greedy.tokens [10]. Prompt 2 has more than 512 tokens, so the sliding window matters.
  Tests/ProbeTests/Fixtures/gemma3-probe-reference.json
      QK-scores the paper's way (one full pass per option; scores q(option) . k(anchor), unscaled),
      in the layout of make_probe_fixtures.py, for samples of probe-samples.jsonl and one prompt
      of over 512 tokens.
"""
import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.models.gemma3 import modeling_gemma3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "reference"))
import make_tokenizer_fixtures as tokenizer_fixtures  # noqa: E402
from make_probe_fixtures import anchors  # noqa: E402
from make_runtime_fixtures import FixtureWriter  # noqa: E402

MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
SEED = 20250217


def default_model_path():
    cache = os.environ.get("QKPROBE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "qkprobe")
    return Path(cache) / "models" / MODEL_FILE


# ---------------------------------------------------------------------------------------------------
# Tokenizer

GEMMA_STRINGS = [
    "<start_of_turn>user\nIs Tom warm?<end_of_turn>\n<start_of_turn>model\n",
    "<bos>text", "a<eos>b", "<mask>", "<pad><unk>", "<start_of_image>", "<unused0> <unused99>",
    "[multimodal]", "<start_of_turn", "<end_of_turn>>",
    "  two  spaces", "   three", "\t\ttabs\t", " \n \n", "a" + " " * 31 + "b", " " * 40,
    "<table><tr><td>x</td></tr></table>", "<div class=\"a\">", "<br/>\n<p>",
    "Ünïcödé", "naïve façade", "Straße", "ÆØÅ æøå", "Türkçe ğüşiöç",
    "ภาษาไทย", "ქართული", "Հայերեն", "ᚠᛇᚻ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\U0001F9EC\U0001FAE0",
    "def f(x):\n\treturn x  # two spaces\n",
]


def tokenizer_fixture(tok, datasets, seed):
    texts = list(dict.fromkeys(tokenizer_fixtures.corpus(datasets, seed) + GEMMA_STRINGS))
    backend = tok.backend_tokenizer
    cases = tokenizer_fixtures.expected_cases(backend, texts)
    vocab_size = backend.get_vocab_size(with_added_tokens=True)
    ids = list(range(300)) + list(range(300, vocab_size, 997)) + [vocab_size - 1]
    return {
        "source": f"{MODEL_FILE}, tokenizer built by transformers' GGUF loader "
                  f"(transformers {transformers.__version__}), reference/make_gemma3_fixtures.py",
        "kind": "bpe/sentencepiece",
        "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
        "vocab_size": vocab_size, "adds_bos_token": bool(tok.add_bos_token),
        "cases": cases,
        "token_decodes": [[i, backend.decode([i], skip_special_tokens=False)] for i in ids],
    }


# ---------------------------------------------------------------------------------------------------
# Model

PROMPTS = [
    "The capital of France is",
    "Every wumpus is a yumpus. Every yumpus is a dumpus. Every dumpus is bright. Every impus is not "
    "bright. Every jompus is a zumpus. Every zumpus is a rompus. Every rompus is sour. Sally is a wumpus. "
    "Max is a jompus.\nQuestion: True or false: Sally is bright.\nAnswer:",
]


def long_prompt(samples, tok, tokens=640):
    """Over 512 tokens: contexts of the probe samples until there are `tokens`, then the first
    sample's question."""
    question = "\n".join(samples[0]["prompt"].split("\n")[-2:])
    contexts = []
    for sample in samples * 2:
        contexts.append(sample["prompt"].rsplit("\n", 2)[0])
        text = "\n\n".join(contexts) + "\n" + question
        if len(tok(text).input_ids) > tokens:
            return text
    raise SystemExit("the probe samples are too short for a long prompt")


def logit_positions(T):
    """Every position of a short prompt; of a long one, the first and last 8, every 16th, and
    those around the window's edge."""
    if T <= 128:
        return list(range(T))
    return sorted(set(range(8)) | set(range(0, T, 16)) | set(range(505, 520)) | set(range(T - 8, T)))


class Capture:
    """q/k/v after Gemma's q/k norms ([T, heads, Dh]) and q/k after rotary, per layer, from hooks."""

    def __init__(self, model):
        self.model = model
        self.captured = {}
        self.rotated = []
        for layer, block in enumerate(model.model.layers):
            attn = block.self_attn
            attn.q_norm.register_forward_hook(self._keep(layer, "q", heads_first=True))
            attn.k_norm.register_forward_hook(self._keep(layer, "k", heads_first=True))
            attn.v_proj.register_forward_hook(self._keep(layer, "v", heads_first=False))
        original = modeling_gemma3.apply_rotary_pos_emb

        def capturing(q, k, cos, sin, *args, **kwargs):
            q_embed, k_embed = original(q, k, cos, sin, *args, **kwargs)
            # [1, heads, T, Dh] -> [T, heads, Dh]
            self.rotated.append((q_embed[0].transpose(0, 1).clone(), k_embed[0].transpose(0, 1).clone()))
            return q_embed, k_embed
        modeling_gemma3.apply_rotary_pos_emb = capturing

    def _keep(self, layer, kind, heads_first):
        d_head = self.model.config.head_dim

        def hook(_module, _inputs, output):
            x = output[0]
            self.captured[(layer, kind)] = (x.transpose(0, 1) if heads_first else x.reshape(x.shape[0], -1, d_head)).clone()
        return hook

    @torch.no_grad()
    def run(self, ids):
        self.captured.clear()
        self.rotated.clear()
        logits = self.model(torch.tensor([ids])).logits[0]
        n = self.model.config.num_hidden_layers
        assert len(self.rotated) == n, len(self.rotated)
        stack = lambda kind: torch.stack([self.captured[(l, kind)] for l in range(n)])
        return (logits, stack("q"), stack("k"), stack("v"),
                torch.stack([r[0] for r in self.rotated]), torch.stack([r[1] for r in self.rotated]))


def model_fixture(model, tok, capture, long_text, out_dir):
    texts = PROMPTS + [long_text]
    prompts = [tok(text, add_special_tokens=True).input_ids for text in texts]
    assert len(prompts[2]) > 600, len(prompts[2])  # past the 512-token window
    vocab = model.config.vocab_size
    rng = np.random.default_rng(SEED)
    runs = [capture.run(ids) for ids in prompts]
    subset = set(rng.choice(vocab, size=448, replace=False).tolist())
    for logits, *_ in runs:
        subset |= set(logits.argmax(-1).tolist())
    subset = sorted(subset)

    writer = FixtureWriter(model=MODEL_FILE, prompts=texts, layer_types=model.config.layer_types,
                           sliding_window=model.config.sliding_window)
    writer.add("vocab_subset", subset)
    for index, (ids, (logits, q, k, v, rot_q, rot_k)) in enumerate(zip(prompts, runs)):
        T = len(ids)
        prefix = f"p{index}."
        writer.add(prefix + "ids", ids)
        rows = logit_positions(T)
        writer.add(prefix + "logits_positions", rows)
        writer.add(prefix + "logits_subset", logits[rows][:, subset])
        top = torch.topk(logits[-1], 64)
        writer.add(prefix + "top_ids", top.indices)
        writer.add(prefix + "top_logits", top.values)
        positions = sorted({0, T // 2, T - 1} | ({511, 600} if T > 600 else set()))
        writer.add(prefix + "qkv_positions", positions)
        for name, value in (("q", q), ("k", k), ("v", v), ("rot_q", rot_q), ("rot_k", rot_k)):
            writer.add(prefix + name, value[:, positions])
        print(f"  prompt {index}: {T} tokens, next {tok.decode(int(logits[-1].argmax()))!r}", file=sys.stderr)
    # Greedy decoding, each step a full pass.
    ids, margin = list(prompts[0]), float("inf")
    with torch.no_grad():
        for _ in range(10):
            last = model(torch.tensor([ids])).logits[0, -1]
            top2 = torch.topk(last, 2).values
            margin = min(margin, float(top2[0] - top2[1]))
            ids.append(int(last.argmax()))
    writer.add("greedy.prompt", prompts[0])
    writer.add("greedy.tokens", ids[len(prompts[0]):])
    print(f"  greedy: {tok.decode(ids[len(prompts[0]):])!r} (smallest top-1 margin {margin:.4f})", file=sys.stderr)
    writer.save(out_dir)


def probe_fixture(model, tok, capture, samples, out_path):
    """QK-scores the paper's way: a full pass over prompt + option per option."""
    cfg = model.config
    L, H, Hkv, Dh = cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
    records = []
    for sample in samples:
        prompt, options = sample["prompt"], sample["options"]
        encoding = tok(prompt, add_special_tokens=True, return_offsets_mapping=True)
        ids = encoding["input_ids"]
        # The probe's default anchor: the last token before the final "Answer:" cue.
        anchor = anchors(encoding["offset_mapping"], prompt)["before-cue"]
        option_ids = []
        for option in options:
            option_tokens = tok(option, add_special_tokens=False)["input_ids"]
            assert len(option_tokens) == 1, (option, option_tokens)
            option_ids.append(option_tokens[0])
        qk = {"pre": [], "post": []}
        option_logits = top = None
        for option_id in option_ids:
            logits, q, k, _v, rot_q, rot_k = capture.run(ids + [option_id])
            if option_logits is None:
                option_logits = [float(logits[len(ids) - 1, t]) for t in option_ids]
                top = torch.topk(logits[len(ids) - 1], 5)
            for rope, (qs, ks) in (("pre", (q, k)), ("post", (rot_q, rot_k))):
                qk[rope].append([[float(qs[l, len(ids), h] @ ks[l, anchor, h // (H // Hkv)]) for h in range(H)]
                                 for l in range(L)])
        records.append({"id": sample["id"], "token_ids": ids, "anchor": anchor, "option_ids": option_ids,
                        "option_logits": option_logits, "top_ids": top.indices.tolist(),
                        "top_logits": [float(x) for x in top.values], "qk_pre": qk["pre"], "qk_post": qk["post"]})
        print(f"  {sample['id']}: {len(ids)} tokens, anchor {anchor} {tok.decode(ids[anchor])!r}", file=sys.stderr)
    out_path.write_text(json.dumps({
        "made_by": "reference/make_gemma3_fixtures.py", "transformers": transformers.__version__,
        "torch": torch.__version__, "model_file": MODEL_FILE, "layers": L, "heads": H, "kv_heads": Hkv,
        "d_head": Dh, "samples": records}) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets-public")
    parser.add_argument("--seed", type=int, default=20250601, help="the tokenizer corpus's seed")
    parser.add_argument("--skip-tokenizer", action="store_true")
    parser.add_argument("--skip-model", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(SEED)
    folder, name = str(args.model.parent), args.model.name
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    print("tokenizer loaded", file=sys.stderr)
    if not args.skip_tokenizer:
        fixture = tokenizer_fixture(tok, args.datasets, args.seed)
        tokenizer_fixtures.write_json(ROOT / "Tests/TokenizersTests/Fixtures/gemma3-gguf-expected.json", fixture)
        print(f"tokenizer: {len(fixture['cases'])} strings, {sum(len(c['ids']) for c in fixture['cases'])} tokens",
              file=sys.stderr)
    if args.skip_model:
        return
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    cfg = model.config
    print("model:", cfg.model_type, cfg.layer_types, cfg.sliding_window, cfg.query_pre_attn_scalar,
          cfg.rope_parameters, file=sys.stderr)
    capture = Capture(model)
    lines = (ROOT / "Tests/ProbeTests/Fixtures/probe-samples.jsonl").read_text(encoding="utf-8").splitlines()
    samples = [json.loads(line) for line in lines if line.strip()]
    long_text = long_prompt(samples, tok)
    model_fixture(model, tok, capture, long_text, ROOT / "Tests/TransformerTests/Fixtures/gemma3")
    probe_samples = [samples[0], samples[4], samples[7], samples[10],
                     {"id": "long-over-512", "prompt": long_text, "options": [" True", " False"], "label": 0}]
    probe_fixture(model, tok, capture, probe_samples, ROOT / "Tests/ProbeTests/Fixtures/gemma3-probe-reference.json")


if __name__ == "__main__":
    main()
