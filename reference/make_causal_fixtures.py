#!/usr/bin/env python3
"""Reference fixtures for CausalTests (ablation and attention scans), made with Hugging Face
transformers, float32, eager attention (attn_implementation="eager"), on the same files qkprobe reads.

    python3 reference/make_causal_fixtures.py            # tiny models and the default model
    python3 reference/make_causal_fixtures.py --tiny     # tiny models only

Writes Tests/CausalTests/Fixtures/<model>.json, one per model (tiny-llama, tiny-qwen2, tiny-gpt2
from Tests/TransformerTests/Fixtures; smollm2 = the default model's GGUF file read by transformers):

  ablation    prompts (token ids), options (two ids each), heads ([[layer, head], ...]);
              clean [N, O] option logits at the last prompt position, and per method
              (zero, mean, query-zero) the same with the heads switched off:
                zero        the head's slice of the attention output before the output projection
                            (TransformerLens hook_z; HF: o_proj's / c_proj's input) set to 0
                mean        that slice replaced by its mean over every token of every prompt
                query-zero  the head's query after rotary embedding set to 0 (HF: the query handed
                            to eager_attention_forward)
  scan        sequences (token ids, used as they are) and per kind [L, H] scores from
              output_attentions, averaged over every scored (sequence, query) pair pooled:
                previous-token   attention from i to i-1, i >= 1
                induction        on [r, r], |r| = n: from i in [n, 2n) to i-n+1
                duplicate-token  on [r, r]: from i in [n, 2n) to i-n
  retrieval   prompt ids, needle [start, end) token positions, max_new_tokens; the greedy tokens
              (each step a full forward pass, no cache) and per head [L, H] the number of distinct
              needle positions it copied: a step counts for a head when the emitted token occurs
              in the needle and the head's top-1 attention from the last position lands on a needle
              position holding that token. top1_margin: the smallest gap between a counted head's
              top two attention weights and the smallest logit top-2 gap (how safe argmax is).
"""
import argparse
import contextlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "Tests" / "TransformerTests" / "Fixtures"
OUT = ROOT / "Tests" / "CausalTests" / "Fixtures"
DEFAULT_MODEL = Path.home() / ".cache" / "qkprobe" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
SEED = 20240415


def attention_modules(model):
    if model.config.model_type == "gpt2":
        return [block.attn for block in model.transformer.h]
    return [layer.self_attn for layer in model.model.layers]


def shape(model):
    c = model.config
    heads = c.num_attention_heads
    d_head = getattr(c, "head_dim", None) or c.hidden_size // heads
    return c.num_hidden_layers, heads, d_head


@contextlib.contextmanager
def ablated(model, heads, method, means=None):
    """Switches `heads` ([(layer, head)]) off for the forward passes inside the block."""
    layers, n_heads, d_head = shape(model)
    by_layer = {}
    for layer, head in heads:
        by_layer.setdefault(layer, []).append(head)
    handles, patched = [], []
    modules = attention_modules(model)
    if method in ("zero", "mean"):
        for layer, layer_heads in by_layer.items():
            attn = modules[layer]
            projection = attn.c_proj if model.config.model_type == "gpt2" else attn.o_proj

            def pre_hook(_module, args, layer=layer, layer_heads=layer_heads):
                z = args[0].clone()
                for head in layer_heads:
                    piece = slice(head * d_head, (head + 1) * d_head)
                    z[..., piece] = 0 if method == "zero" else means[layer][piece]
                return (z,) + tuple(args[1:])
            handles.append(projection.register_forward_pre_hook(pre_hook))
    else:
        module = sys.modules[type(modules[0]).__module__]
        original = module.eager_attention_forward
        calls = []

        def wrapper(attn, query, *args, **kwargs):
            layer_heads = by_layer.get(attn.layer_idx)
            if layer_heads:
                query = query.clone()
                query[:, layer_heads] = 0
                calls.append(attn.layer_idx)
            return original(attn, query, *args, **kwargs)
        module.eager_attention_forward = wrapper
        patched.append((module, original, calls))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        for module, original, calls in patched:
            module.eager_attention_forward = original
            assert calls, "the query-zero patch was never called: is attention eager?"


@torch.no_grad()
def option_logits(model, prompts, options):
    return [model(torch.tensor([ids])).logits[0, -1, opts].tolist() for ids, opts in zip(prompts, options)]


@torch.no_grad()
def head_means(model, prompts):
    """Per layer, the mean of the output projection's input over every token of every prompt."""
    sums, count = {}, 0
    handles = []
    for layer, attn in enumerate(attention_modules(model)):
        projection = attn.c_proj if model.config.model_type == "gpt2" else attn.o_proj

        def keep(_module, args, layer=layer):
            sums[layer] = sums.get(layer, 0) + args[0][0].double().sum(0)
        handles.append(projection.register_forward_pre_hook(keep))
    for ids in prompts:
        model(torch.tensor([ids]))
        count += len(ids)
    for handle in handles:
        handle.remove()
    return {layer: (total / count).float() for layer, total in sums.items()}


def ablation_fixture(model, prompts, options, heads):
    means = head_means(model, prompts)
    result = {"prompts": prompts, "options": options, "heads": heads,
              "clean": option_logits(model, prompts, options)}
    for method in ("zero", "mean", "query-zero"):
        with ablated(model, heads, method, means):
            result[method] = option_logits(model, prompts, options)
    return result


@torch.no_grad()
def scan_fixture(model, previous, repeated):
    layers, heads, _ = shape(model)

    def score(sequences, pairs_of):
        total, count = torch.zeros(layers, heads, dtype=torch.float64), 0
        for ids in sequences:
            attentions = torch.stack(model(torch.tensor([ids]), output_attentions=True).attentions)[:, 0]
            pairs = pairs_of(len(ids))
            for query, key in pairs:
                total += attentions[:, :, query, key].double()
            count += len(pairs)
        return (total / count).tolist()

    return {
        "previous_sequences": previous,
        "repeated_sequences": repeated,
        "previous-token": score(previous, lambda t: [(i, i - 1) for i in range(1, t)]),
        "induction": score(repeated, lambda t: [(i, i - t // 2 + 1) for i in range(t // 2, t)]),
        "duplicate-token": score(repeated, lambda t: [(i, i - t // 2) for i in range(t // 2, t)]),
    }


@torch.no_grad()
def retrieval_fixture(model, prompt, needle, max_new_tokens):
    layers, heads, _ = shape(model)
    ids = list(prompt)
    copied = [[set() for _ in range(heads)] for _ in range(layers)]
    generated, attention_margin, logit_margin = [], float("inf"), float("inf")
    for _ in range(max_new_tokens):
        output = model(torch.tensor([ids]), output_attentions=True)
        logits = output.logits[0, -1]
        top = torch.topk(logits, 2).values
        logit_margin = min(logit_margin, float(top[0] - top[1]))
        token = int(torch.argmax(logits))
        generated.append(token)
        positions = [p for p in range(*needle) if prompt[p] == token]
        if positions:
            for layer, attention in enumerate(output.attentions):
                for head in range(heads):
                    weights = attention[0, head, -1]
                    best = int(torch.argmax(weights))
                    if best in positions:
                        copied[layer][head].add(best)
                        two = torch.topk(weights, 2).values
                        attention_margin = min(attention_margin, float(two[0] - two[1]))
        ids.append(token)
    return {"prompt": list(prompt), "needle": list(needle), "max_new_tokens": max_new_tokens,
            "generated": generated, "copied": [[len(s) for s in row] for row in copied],
            # null when no head copied anything (no margin to speak of)
            "top1_margin": attention_margin if attention_margin != float("inf") else None, "logit_margin": logit_margin}


def tiny_fixture(name):
    model = AutoModelForCausalLM.from_pretrained(TINY / name, dtype=torch.float32, attn_implementation="eager").eval()
    layers, heads, _ = shape(model)
    vocab = model.config.vocab_size
    rng = np.random.default_rng(SEED)
    prompts = [rng.integers(0, vocab, size=n).tolist() for n in (9, 17, 24)]
    options = [rng.choice(vocab, size=2, replace=False).tolist() for _ in prompts]
    chosen = [[0, 1], [layers - 1, 0], [layers - 1, heads - 1]]
    previous = [rng.integers(0, vocab, size=n).tolist() for n in (12, 20)]
    repeated = []
    for n in (6, 10):
        half = rng.integers(0, vocab, size=n).tolist()
        repeated.append(half + half)
    # A random model copies nothing on purpose, so the needle (positions 6..40 of the prompt) is
    # refilled with what the model wrote last time until some head has copies.
    prompt = rng.integers(0, vocab, size=40).tolist()
    best = None
    for _ in range(8):
        retrieval = retrieval_fixture(model, prompt, (6, 40), 10)
        if best is None or sum(map(sum, retrieval["copied"])) > sum(map(sum, best["copied"])):
            best = retrieval
        prompt = prompt[:6] + (retrieval["generated"] * 34)[:34]
    return {"model": name, "transformers": transformers.__version__,
            "ablation": ablation_fixture(model, prompts, options, chosen),
            "scan": scan_fixture(model, previous, repeated),
            "retrieval": best}


NEEDLE = " The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day."


def default_fixture():
    model = AutoModelForCausalLM.from_pretrained(DEFAULT_MODEL.parent, gguf_file=DEFAULT_MODEL.name,
                                                 dtype=torch.float32, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(DEFAULT_MODEL.parent, gguf_file=DEFAULT_MODEL.name)
    rng = np.random.default_rng(SEED)
    texts = [
        "Every cat is an animal. Tom is a cat.\nQuestion: Tom is an animal.\nAnswer:",
        "If it rains, the grass is wet. It does not rain.\nQuestion: The grass is wet.\nAnswer:",
        "Anne is kind. Kind people are happy. Bob is not kind.\nQuestion: Anne is happy.\nAnswer:",
    ]
    prompts = [tokenizer(t, add_special_tokens=False).input_ids for t in texts]
    true_false = [tokenizer(" True", add_special_tokens=False).input_ids[0], tokenizer(" False", add_special_tokens=False).input_ids[0]]
    options = [true_false for _ in prompts]
    chosen = [[3, 0], [14, 3], [20, 5], [27, 8]]
    # Token ids from the ordinary part of the vocabulary (the special tokens come first).
    previous = [rng.integers(100, model.config.vocab_size, size=n).tolist() for n in (24, 40)]
    repeated = []
    for n in (16, 24):
        half = rng.integers(100, model.config.vocab_size, size=n).tolist()
        repeated.append(half + half)
    filler = " The farmer carried a wooden chair near the river. A small child found an old map at dawn." * 4
    text = "Read the story and answer the question." + filler + NEEDLE + filler + \
        "\nWhat is the best thing to do in San Francisco?\nAnswer:"
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    start = text.index(NEEDLE)
    end = start + len(NEEDLE)
    needle = [i for i, (a, b) in enumerate(encoding.offset_mapping) if a >= start and b <= end and b > a]
    return {"model": "smollm2", "transformers": transformers.__version__,
            "ablation": ablation_fixture(model, prompts, options, chosen),
            "scan": scan_fixture(model, previous, repeated),
            "retrieval": retrieval_fixture(model, encoding.input_ids, (needle[0], needle[-1] + 1), 12)}


def save(fixture):
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{fixture['model']}.json"
    path.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1e3:.1f} kB; retrieval generated {fixture['retrieval']['generated']}, "
          f"copies {sum(map(sum, fixture['retrieval']['copied']))}, margins {fixture['retrieval']['top1_margin'] or float('inf'):.2e} "
          f"{fixture['retrieval']['logit_margin']:.2e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny models only")
    args = parser.parse_args()
    torch.manual_seed(SEED)
    for name in ("tiny-llama", "tiny-qwen2", "tiny-gpt2"):
        save(tiny_fixture(name))
    if not args.tiny:
        save(default_fixture())


if __name__ == "__main__":
    main()
