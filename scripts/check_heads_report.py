#!/usr/bin/env python3
"""Recompute `qkprobe heads RUN.h5 --format json` from the run file, independently of qkprobe.

usage: check_heads_report.py RUN.h5 HEADS.json

From /scores/qk, /scores/model_logit, /samples/label and /samples/complete only (numpy's argmax:
the first option wins a tie, as in qkprobe), this recomputes for the model and every head the
accuracy, its 95% Wilson interval (statsmodels), the balanced accuracy (mean per-label recall),
the answer share and the constant flag; for every head the exact McNemar test against the model
(scipy's binomtest on the discordant rows); the majority-class accuracy; and the label-permutation
max-T test with the report's recorded seed and count, reimplementing qkprobe's generator
(SplitMix64 words, rejection for bounded integers, Fisher-Yates from the last position down) so
that the family-wise and adjusted p-values must match exactly. Counts must match exactly; the
other numbers within 1e-9.

Prints one "ok" line, or one line per disagreement on stderr and exit status 1.
"""
import json
import math
import sys

import h5py
import numpy as np
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

TOLERANCE = 1e-9
MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, bound):
        threshold = ((1 << 64) - bound) % bound
        while True:
            value = self.next()
            if value >= threshold:
                return value % bound

    def shuffle(self, items):
        for index in range(len(items) - 1, 0, -1):
            j = self.below(index + 1)
            items[index], items[j] = items[j], items[index]


def summary(labels, answers):
    n = len(labels)
    correct = int((answers == labels).sum())
    if n == 0:
        return {"correct": 0, "n": 0, "accuracy": None, "ci95": None, "balanced_accuracy": None,
                "answer_share": None, "constant": False}
    low, high = proportion_confint(correct, n, alpha=0.05, method="wilson")
    recalls = [float((answers[labels == c] == c).mean()) for c in np.unique(labels)]
    share = float(np.bincount(answers).max() / n)
    return {"correct": correct, "n": n, "accuracy": correct / n, "ci95": [float(low), float(high)],
            "balanced_accuracy": float(np.mean(recalls)), "answer_share": share, "constant": share == 1.0}


def mcnemar_p(only_head, only_model):
    if only_head + only_model == 0:
        return 1.0
    return float(binomtest(only_head, only_head + only_model, 0.5).pvalue)


def compare(problems, where, got, want):
    if want is None or got is None:
        if got is not want and not (got is None and want is None):
            problems.append(f"{where}: report has {got!r}, recomputed {want!r}")
    elif isinstance(want, (bool, str)):
        if got != want:
            problems.append(f"{where}: report has {got!r}, recomputed {want!r}")
    elif isinstance(want, int):
        if got != want:
            problems.append(f"{where}: report has {got}, recomputed {want}")
    elif isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            problems.append(f"{where}: report has {got!r}, recomputed {want!r}")
        else:
            for i, (g, w) in enumerate(zip(got, want)):
                compare(problems, f"{where}[{i}]", g, w)
    elif not isinstance(got, (int, float)) or not math.isclose(got, want, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
        problems.append(f"{where}: report has {got!r}, recomputed {want!r}")


def check(run_path, report_path):
    with open(report_path) as handle:
        report = json.load(handle)
    with h5py.File(run_path, "r") as f:
        qk = f["/scores/qk"][()]                     # [N, O, L, H]
        logits = f["/scores/model_logit"][()]        # [N, O]
        label = f["/samples/label"][()].astype(int)
        complete = f["/samples/complete"][()] == 1
        options = [o.decode() if isinstance(o, bytes) else o for o in f["/options"][()]]
    rows = np.flatnonzero(complete & (label >= 0))
    n_layers, n_heads = qk.shape[2], qk.shape[3]
    labels = label[rows]
    model_answers = logits[rows].argmax(axis=1)
    head_answers = qk[rows].argmax(axis=1).reshape(len(rows), n_layers * n_heads).T   # [L*H, n]

    problems = []
    compare(problems, "n", report.get("n"), len(rows))
    if len(rows):
        counts = np.bincount(labels, minlength=len(options))
        compare(problems, "majority_class_accuracy", report.get("majority_class_accuracy"), float(counts.max() / len(rows)))
        compare(problems, "majority_class", report.get("majority_class"), options[int(counts.argmax())])
    model = summary(labels, model_answers)
    for key, value in model.items():
        compare(problems, f"model.{key}", report.get("model", {}).get(key), value)

    permutation = report.get("permutations", {})
    count, seed = permutation.get("count"), permutation.get("seed")
    correct = (head_answers == labels).sum(axis=1)
    generator, shuffled, maxima = SplitMix64(int(seed)), labels.tolist(), []
    for _ in range(int(count)):
        generator.shuffle(shuffled)
        maxima.append(int((head_answers == np.array(shuffled, dtype=int)).sum(axis=1).max()) if len(rows) else 0)
    maxima = np.array(maxima)
    adjusted = [(1 + int((maxima >= c).sum())) / (1 + int(count)) for c in correct]
    best = int(np.argmax(correct))
    compare(problems, "best_head", report.get("best_head"), f"L{best // n_heads}H{best % n_heads}")
    compare(problems, "best_head_familywise_p", report.get("best_head_familywise_p"), adjusted[best] if len(rows) else None)

    heads = report.get("heads", [])
    if len(heads) != n_layers * n_heads:
        problems.append(f"heads: {len(heads)} entries, the run has {n_layers * n_heads} heads")
    for entry in heads:
        name = entry.get("head", "?")
        layer, head = entry.get("layer"), entry.get("head_index")
        if name != f"L{layer}H{head}" or not (0 <= layer < n_layers and 0 <= head < n_heads):
            problems.append(f"heads: entry {name!r} names layer {layer}, head {head}")
            continue
        index = layer * n_heads + head
        for key, value in summary(labels, head_answers[index]).items():
            compare(problems, f"{name}.{key}", entry.get(key), value)
        right_head, right_model = head_answers[index] == labels, model_answers == labels
        only_head, only_model = int((right_head & ~right_model).sum()), int((right_model & ~right_head).sum())
        vs = entry.get("vs_model", {})
        compare(problems, f"{name}.vs_model.only_head", vs.get("only_head"), only_head)
        compare(problems, f"{name}.vs_model.only_model", vs.get("only_model"), only_model)
        compare(problems, f"{name}.vs_model.difference", vs.get("difference"),
                (only_head - only_model) / len(rows) if len(rows) else None)
        compare(problems, f"{name}.vs_model.p", vs.get("p"), mcnemar_p(only_head, only_model))
        compare(problems, f"{name}.adjusted_p", entry.get("adjusted_p"), adjusted[index] if len(rows) else None)
    return problems, f"{len(rows)} labelled rows, {len(heads)} heads, {count} permutations (seed {seed})"


def main(arguments):
    if len(arguments) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    problems, what = check(*arguments)
    for problem in problems[:40]:
        print(f"{arguments[1]}: {problem}", file=sys.stderr)
    if problems:
        print(f"{arguments[1]}: {len(problems)} disagreements with {arguments[0]}", file=sys.stderr)
        return 1
    print(f"{arguments[1]}: ok, matches {arguments[0]} ({what})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
