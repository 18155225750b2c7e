#!/usr/bin/env python3
"""Write a synthetic qkprobe run file (layout version 1) for developing the notebooks.

usage: make_synthetic_run.py OUTPUT.h5 [--seed S] [--samples N] [--activations]
                             [--incomplete FRACTION] [--unlabelled FRACTION] [--model-sha256 HEX]
                             [--unknown-steps-and-distractors] [--dataset-name NAME]

The file follows the layout that the Swift tool writes (docs/design.md, "The run file", listed in
full in Sources/RunStore/RunLayout.swift), but its numbers are made up: a few heads answer
well above the model baseline, most are at chance, and every head gets worse as the number of
reasoning steps and distractors grows. It is for developing and testing plots only; nothing in
it says anything about a real model.

The same arguments give the same file contents. With --activations the scores are computed
from the saved queries and keys, exactly as qkprobe does (q . k times qk_scale, grouped-query
key head h // (H / Hkv)). With --incomplete some rows are left as an interrupted run leaves
them (complete = 0, NaN scores) and the /heads tables are left unwritten.
"""
import argparse
import re
import sys
from pathlib import Path

import h5py
import numpy as np

OPTIONS = [" True", " False"]
STEPS = np.arange(1, 7)
DISTRACTORS = np.arange(0, 5)
# The default model's shape (SmolLM2-135M-Instruct), so that the plots look like real ones.
LAYERS, HEADS, KV_HEADS, D_HEAD = 30, 9, 3, 64
VOCABULARY = 49152


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output")
    parser.add_argument("--seed", type=int, default=2502, help="seeds the samples and their scores (default 2502)")
    parser.add_argument("--samples", type=int, default=600, help="rows (default 600)")
    parser.add_argument("--activations", action="store_true", help="save /activations/q and /activations/k")
    parser.add_argument("--incomplete", type=float, default=0.0,
                        help="fraction of rows left unwritten, as by an interrupted run (default 0)")
    parser.add_argument("--unknown-steps-and-distractors", action="store_true",
                        help="store steps and distractors as -1 (unknown), as for a dataset without them")
    parser.add_argument("--unlabelled", type=float, default=0.0,
                        help="fraction of rows with label -1 (default 0)")
    parser.add_argument("--model-sha256", default="5" * 64, type=model_digest,
                        help="the root attribute model_sha256, 64 hex digits; it also seeds which heads "
                             "are good, so runs with the same value look like one model on different data")
    parser.add_argument("--dataset-name", default="synthetic", help="the root attribute dataset_name")
    return parser.parse_args(argv)


def model_digest(text):
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise argparse.ArgumentTypeError(f"expected 64 lowercase hex digits, got {text!r}")
    return text


def head_skills(rng):
    """How strongly each head separates the right option from the wrong one: most near zero, a
    handful of strong heads past the first third of the layers."""
    skill = rng.normal(0.0, 0.15, size=(LAYERS, HEADS))
    for _ in range(6):
        layer = rng.integers(LAYERS // 3, LAYERS - 3)
        skill[layer, rng.integers(HEADS)] = rng.uniform(1.2, 2.2)
    # A few heads that prefer the wrong option: below chance, so the colour map shows both sides.
    for _ in range(3):
        skill[rng.integers(LAYERS), rng.integers(HEADS)] = -rng.uniform(0.5, 1.0)
    return skill


def synthetic_rows(rng, n, skill):
    """Samples and their scores: labels, steps, distractors, queries, keys, qk, model logits."""
    labels = np.tile(np.arange(len(OPTIONS)), n // len(OPTIONS) + 1)[:n]
    rng.shuffle(labels)
    steps = rng.choice(STEPS, size=n).astype(np.int16)
    distractors = rng.choice(DISTRACTORS, size=n).astype(np.int16)
    # Harder problems: the signal fades with depth and with distractors.
    difficulty = 1.0 - 0.09 * (steps - 1) - 0.07 * distractors
    signal = skill[None] * difficulty[:, None, None]                       # [N, L, H]

    keys = rng.normal(size=(n, LAYERS, KV_HEADS, D_HEAD)).astype(np.float32)
    group = HEADS // KV_HEADS
    key_per_head = np.repeat(keys, group, axis=2)                          # [N, L, H, Dh]
    key_direction = key_per_head / np.linalg.norm(key_per_head, axis=-1, keepdims=True)
    right = (np.arange(len(OPTIONS))[None, :] == labels[:, None])          # [N, O]
    # Queries: noise, plus a component along the key that is larger for the right option.
    strength = np.where(right[:, :, None, None], signal[:, None], 0.0)      # [N, O, L, H]
    queries = rng.normal(0.0, 0.15, size=(n, len(OPTIONS), LAYERS, HEADS, D_HEAD))
    queries += (strength + rng.normal(0.0, 1.0, size=strength.shape))[..., None] * key_direction[:, None]
    queries = queries.astype(np.float32)
    # qk_scale is 1 (the default, unscaled dot product).
    qk = np.einsum("nolhd,nlhd->nolh", queries.astype(np.float64), key_per_head.astype(np.float64)).astype(np.float32)

    # The model's own answer: right about 62% of the time, worse on deeper problems.
    logits = rng.normal(10.0, 1.0, size=(n, len(OPTIONS)))
    logits += np.where(right, 0.9 * difficulty[:, None], 0.0)
    return labels.astype(np.int8), steps, distractors, queries, keys, qk, logits.astype(np.float32)


def accuracy_tables(qk, logits, labels, steps, distractors, scored):
    """The /heads tables, computed as the Swift Probe module computes them (argmax, first option
    wins a tie; only complete, labelled rows; NaN for a group with no such row)."""
    layers, heads = qk.shape[2:]
    head_right = qk.argmax(axis=1) == labels[:, None, None]               # [N, L, H]
    model_right = logits.argmax(axis=1) == labels                          # [N]

    def accuracy(members):
        if not members.any():
            return np.full((layers, heads), np.nan, np.float32), np.float32(np.nan)
        return head_right[members].mean(axis=0).astype(np.float32), np.float32(model_right[members].mean())

    tables = {"overall": accuracy(scored)}
    for name, column in [("steps", steps), ("distractors", distractors)]:
        values = np.unique(column[column >= 0])
        groups = [accuracy(scored & (column == v)) for v in values]
        tables[name] = (values.astype(np.int16),
                        np.array([g[0] for g in groups], np.float32).reshape(len(values), layers, heads),
                        np.array([g[1] for g in groups], np.float32))
    return tables


def write_run_file(path, attrs, options, labels, steps, distractors, complete, qk, model_logit,
                   token_ids, queries=None, keys=None):
    """Writes a run file in layout version 1 from its parts. The /heads tables are computed from the
    scores and written only when every row is complete, as qkprobe writes them at the end of a run;
    otherwise they hold their fill value, NaN, as in an interrupted run."""
    n = len(labels)
    string = h5py.string_dtype("utf-8")
    compressed = dict(compression="gzip", shuffle=True)
    n_tokens = np.array([len(ids) for ids in token_ids], np.int32)
    with h5py.File(path, "w") as f:
        for name, value in attrs.items():
            f.attrs[name] = value
        f.create_dataset("/options", data=np.array(options, dtype=object), dtype=string)
        f.create_dataset("/samples/id", data=np.array([f"synthetic-{i}" for i in range(n)], dtype=object),
                         dtype=string, **compressed)
        for name, data in [("label", np.asarray(labels, np.int8)), ("steps", np.asarray(steps, np.int16)),
                           ("distractors", np.asarray(distractors, np.int16)), ("n_tokens", n_tokens),
                           ("anchor", n_tokens - 1)]:
            f.create_dataset(f"/samples/{name}", data=data, **compressed)
        tokens = f.create_dataset("/samples/token_ids", shape=(n,), dtype=h5py.vlen_dtype(np.int32), **compressed)
        for row, ids in enumerate(token_ids):
            tokens[row] = ids
        f.create_dataset("/samples/complete", data=np.asarray(complete, np.uint8))
        f.create_dataset("/scores/qk", data=np.asarray(qk, np.float32))
        f.create_dataset("/scores/model_logit", data=np.asarray(model_logit, np.float32))
        if queries is not None:
            f.create_dataset("/activations/q", data=np.asarray(queries, np.float32))
            f.create_dataset("/activations/k", data=np.asarray(keys, np.float32))

        labels, complete = np.asarray(labels), np.asarray(complete)
        tables = accuracy_tables(np.asarray(qk), np.asarray(model_logit), labels, np.asarray(steps),
                                 np.asarray(distractors), (complete == 1) & (labels >= 0))
        accuracy, baseline = tables["overall"]
        steps_values, by_steps, baseline_by_steps = tables["steps"]
        distractors_values, by_distractors, baseline_by_distractors = tables["distractors"]
        f.create_dataset("/heads/steps_values", data=steps_values)
        f.create_dataset("/heads/distractors_values", data=distractors_values)
        written = bool((complete == 1).all())
        for name, data in [("accuracy", accuracy), ("accuracy_by_steps", by_steps),
                           ("accuracy_by_distractors", by_distractors), ("baseline_accuracy", baseline),
                           ("baseline_accuracy_by_steps", baseline_by_steps),
                           ("baseline_accuracy_by_distractors", baseline_by_distractors)]:
            data = np.asarray(data, np.float32)
            f.create_dataset(f"/heads/{name}", data=data if written else np.full_like(data, np.nan))
        f.create_dataset("/heads/complete", data=np.uint8(written))


def write_synthetic_run(path, args):
    rng = np.random.default_rng(args.seed)
    n = args.samples
    # The heads' skills belong to the model, so runs of one model on different data share them.
    skill = head_skills(np.random.default_rng(int(args.model_sha256[:15], 16)))
    labels, steps, distractors, queries, keys, qk, logits = synthetic_rows(rng, n, skill)
    labels[rng.random(n) < args.unlabelled] = -1
    if args.unknown_steps_and_distractors:
        steps[:], distractors[:] = -1, -1
    complete = (rng.random(n) >= args.incomplete).astype(np.uint8)
    for array in (qk, logits, queries, keys):
        array[complete == 0] = np.nan
    token_ids = [rng.integers(0, VOCABULARY, size=count).astype(np.int32) for count in rng.integers(30, 90, size=n)]
    attrs = {
        "format": "qkprobe-run", "format_version": np.int64(1),
        "tool_version": "synthetic (notebooks-export/make_synthetic_run.py)",
        "created": "2025-01-01T00:00:00Z",
        "model_name": "synthetic", "model_path": "(none: made-up numbers)",
        "model_sha256": args.model_sha256, "architecture": "llama",
        "n_layers": np.int64(LAYERS), "n_heads": np.int64(HEADS), "n_kv_heads": np.int64(KV_HEADS),
        "d_head": np.int64(D_HEAD), "dataset_name": args.dataset_name,
        "dataset_sha256": f"{args.seed:064x}", "template": "{context}\nQuestion: {question}\nAnswer:",
        "qk_rope": "pre", "qk_scale": np.float32(1.0), "threads": np.int64(1),
    }
    write_run_file(path, attrs, OPTIONS, labels, steps, distractors, complete, qk, logits, token_ids,
                   *((queries, keys) if args.activations else ()))


def main(argv):
    args = parse_arguments(argv)
    for name in ("incomplete", "unlabelled"):
        if not 0.0 <= getattr(args, name) < 1.0:
            sys.exit(f"make_synthetic_run.py: --{name} must be in [0, 1), got {getattr(args, name)}")
    if args.samples < 1:
        sys.exit(f"make_synthetic_run.py: --samples must be positive, got {args.samples}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    write_synthetic_run(args.output, args)
    print(f"wrote {args.output} (synthetic: {args.samples} samples, seed {args.seed})")


if __name__ == "__main__":
    main(sys.argv[1:])
