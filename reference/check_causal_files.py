#!/usr/bin/env python3
"""Recomputes what `qkprobe scan` and `qkprobe ablate` wrote, with transformers (float32, eager
attention, the default model's GGUF file) and scipy/statsmodels, and prints the worst differences.

    python3 reference/check_causal_files.py --scan out/scan-previous-token.h5 out/scan-induction.h5 \\
        --ablation out/ablation.h5 --dataset datasets/logic-test.jsonl

Scans: every head's score from output_attentions on the file's /sequences (the scan's kind and
definitions as in make_causal_fixtures.py). Ablation: the options' logits clean and with the
file's named heads off (zero ablation: o_proj's input slice set to 0), on the dataset's prompts
tokenized by transformers; and, from the file's logits alone, accuracy with a 95% Wilson interval
(statsmodels) and the mean logit difference with a 95% t interval (scipy), clean, heads off and
per random draw.
"""
import argparse
import json
import sys
from pathlib import Path

import h5py
import numpy as np
import torch
from scipy import stats
from statsmodels.stats.proportion import proportion_confint
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_causal_fixtures import DEFAULT_MODEL, ablated, option_logits, scan_fixture  # noqa: E402


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def check_scan(model, path):
    with h5py.File(path, "r") as f:
        kind, scores, sequences = text(f.attrs["kind"]), f["scores"][...], f["sequences"][...].tolist()
    reference = np.array(scan_fixture(model, sequences, sequences)[kind])
    worst = np.abs(reference - scores).max()
    best = np.unravel_index(np.argmax(reference), reference.shape)
    print(f"{path}: {kind}, {len(sequences)} sequences; transformers' strongest head L{best[0]}H{best[1]} "
          f"{reference[best]:.4f}; worst |qkprobe - transformers| over {scores.size} heads {worst:.2e}")
    return worst


def summary(logits, labels):
    chosen = logits.argmax(1)
    right = logits[np.arange(len(labels)), labels]
    wrong = np.where(np.arange(logits.shape[1])[None, :] == labels[:, None], -np.inf, logits).max(1)
    difference = right - wrong
    correct = int((chosen == labels).sum())
    low, high = proportion_confint(correct, len(labels), alpha=0.05, method="wilson")
    mean = difference.mean()
    half = stats.t.ppf(0.975, len(labels) - 1) * difference.std(ddof=1) / np.sqrt(len(labels))
    return correct / len(labels), (low, high), mean, (mean - half, mean + half)


def show(name, result, n):
    accuracy, (low, high), mean, (dlow, dhigh) = result
    print(f"  {name:<24} accuracy {accuracy:.4f} [{low:.4f}, {high:.4f}] (n = {n}); "
          f"mean logit difference {mean:+.4f} [{dlow:+.4f}, {dhigh:+.4f}]")


def check_ablation(model, tokenizer, path, dataset):
    with h5py.File(path, "r") as f:
        ids = [text(s) for s in f["samples/id"][...]]
        labels = f["samples/label"][...].astype(int)
        heads = f["ablation/heads"][...].tolist()
        clean, ablated_logits = f["ablation/clean_logit"][...], f["ablation/ablated_logit"][...]
        random = f["ablation/random_logit"][...] if "ablation/random_logit" in f else np.zeros((0,) + clean.shape)
        method = text(f.attrs.get("method", f["ablation"].attrs.get("method", "zero")))
    rows = {row["id"]: row for row in map(json.loads, Path(dataset).read_text().splitlines())}
    prompts = [tokenizer(rows[i]["prompt"], add_special_tokens=False).input_ids for i in ids]
    options = [[tokenizer(o, add_special_tokens=False).input_ids[0] for o in rows[i]["options"]] for i in ids]
    assert method == "zero", f"this check recomputes zero ablations, not {method}"
    reference_clean = np.array(option_logits(model, prompts, options))
    with ablated(model, [tuple(h) for h in heads], "zero"):
        reference_ablated = np.array(option_logits(model, prompts, options))
    print(f"{path}: {len(ids)} samples, heads {', '.join(f'L{l}H{h}' for l, h in heads)}; worst |qkprobe - transformers| "
          f"clean logits {np.abs(reference_clean - clean).max():.2e}, heads off {np.abs(reference_ablated - ablated_logits).max():.2e}")
    labelled = labels >= 0
    n = int(labelled.sum())
    show("clean", summary(clean[labelled], labels[labelled]), n)
    show("heads off", summary(ablated_logits[labelled], labels[labelled]), n)
    for draw, logits in enumerate(random):
        show(f"random draw {draw + 1}", summary(logits[labelled], labels[labelled]), n)
    flips = (clean.argmax(1) == labels) != (ablated_logits.argmax(1) == labels)
    lost = int(((clean.argmax(1) == labels) & flips)[labelled].sum())
    gained = int(flips[labelled].sum()) - lost
    p = stats.binomtest(min(lost, gained), lost + gained, 0.5).pvalue if lost + gained else 1.0
    print(f"  McNemar (scipy binomtest): lost {lost}, gained {gained}, exact p {p:.4f}")


@torch.no_grad()
def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scan", nargs="*", default=[], help="scan files (qkprobe scan --output)")
    parser.add_argument("--ablation", help="an ablation file (qkprobe ablate --output), zero method")
    parser.add_argument("--dataset", help="the dataset the ablation ran on (JSON Lines with id, prompt, options)")
    args = parser.parse_args()
    if args.ablation and not args.dataset:
        parser.error("--ablation needs --dataset")
    model = AutoModelForCausalLM.from_pretrained(DEFAULT_MODEL.parent, gguf_file=DEFAULT_MODEL.name,
                                                 dtype=torch.float32, attn_implementation="eager").eval()
    for path in args.scan:
        check_scan(model, path)
    if args.ablation:
        tokenizer = AutoTokenizer.from_pretrained(DEFAULT_MODEL.parent, gguf_file=DEFAULT_MODEL.name)
        check_ablation(model, tokenizer, args.ablation, args.dataset)


if __name__ == "__main__":
    main()
