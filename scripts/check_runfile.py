#!/usr/bin/env python3
"""Check qkprobe run files (layout version 1) with nothing but h5py and numpy.

usage: check_runfile.py RUN.h5 [RUN.h5 ...]

For each file: every dataset and root attribute of the layout (docs/design.md, listed in full in
Sources/RunStore/RunLayout.swift) is present with the right dtype, and no other
object is; shapes agree with n_layers / n_heads / n_kv_heads / d_head and the numbers of samples
and options; every dataset has a description and a dimension scale on each axis; the sample
metadata is consistent; rows flagged complete hold finite scores. When
activations are saved, /scores/qk is recomputed from them for every complete row,

    qk[n, o, l, h] = qk_scale * q[n, o, l, h, :] . k[n, l, h // (H / Hkv), :]

in float64, and must agree within 1e-4 relative to the size of the sum, i.e.
|stored - exact| <= 1e-4 * qk_scale * sum_i |q_i k_i| (plain relative error is meaningless
when the dot product cancels to near zero).

Prints one "ok" line per good file; otherwise one line per problem on stderr and exit status 1.
"""
import sys

import h5py
import numpy as np

FORMAT = "qkprobe-run"
FORMAT_VERSION = 1
STRING_ATTRS = ["format", "tool_version", "created", "model_name", "model_path", "model_sha256",
                "architecture", "dataset_name", "dataset_sha256", "template", "qk_rope"]
DIMENSION_ATTRS = ["format_version", "n_layers", "n_heads", "n_kv_heads", "d_head", "threads"]
RELATIVE_TOLERANCE = 1e-4
DIMENSION_SCALES = ["sample", "option", "layer", "head", "kv_head", "d_head"]
ROWS_PER_BATCH = 256

STRING = "string"
INT32_SEQUENCE = "vlen int32"


SHARD_ATTRS = ["shard_index", "shard_count", "shard_total_rows", "dataset_rows"]


def check_shard(f, n, problems):
    """A shard's file (probe --shard I/N): its attributes and /shard/rows; a summary or ""."""
    if "shard_index" not in f.attrs:
        return ""
    values = {name: f.attrs.get(name) for name in SHARD_ATTRS}
    for name, value in values.items():
        if not isinstance(value, np.integer) or value < 1:
            problems.append(f"root attribute {name} is {value!r}, expected a positive integer")
            return ""
    index, count, total = (int(values[k]) for k in SHARD_ATTRS[:3])
    if index > count:
        problems.append(f"shard_index {index} is above shard_count {count}")
    rows = f["/shard/rows"][()]
    if rows.shape != (n,) or (rows < 0).any() or (rows >= total).any() or (np.diff(rows) <= 0).any():
        problems.append(f"/shard/rows must be {n} ascending rows within 0..{total - 1}")
    elif not np.array_equal(rows, np.arange(index - 1, total, count)):
        problems.append(f"/shard/rows are not the round-robin rows of shard {index}/{count} of {total}")
    return f", shard {index}/{count} of {total} rows"


def expected_datasets(n, o, layers, heads, kv_heads, d_head, s, d, activations, sample_options=True, shots=False, mcqa=False,
                      groups=False):
    """Path -> (dtype, shape) for a run of these sizes."""
    f4, i2 = np.dtype("<f4"), np.dtype("<i2")
    layout = {
        "/options": (STRING, (o,)),
        "/samples/id": (STRING, (n,)),
        "/samples/label": (np.dtype("i1"), (n,)),
        "/samples/steps": (i2, (n,)),
        "/samples/distractors": (i2, (n,)),
        "/samples/n_tokens": (np.dtype("<i4"), (n,)),
        "/samples/anchor": (np.dtype("<i4"), (n,)),
        "/samples/token_ids": (INT32_SEQUENCE, (n,)),
        "/samples/complete": (np.dtype("u1"), (n,)),
        "/scores/qk": (f4, (n, o, layers, heads)),
        "/scores/model_logit": (f4, (n, o)),
        "/heads/steps_values": (i2, (s,)),
        "/heads/distractors_values": (i2, (d,)),
        "/heads/accuracy": (f4, (layers, heads)),
        "/heads/accuracy_by_steps": (f4, (s, layers, heads)),
        "/heads/accuracy_by_distractors": (f4, (d, layers, heads)),
        "/heads/baseline_accuracy": (f4, ()),
        "/heads/baseline_accuracy_by_steps": (f4, (s,)),
        "/heads/baseline_accuracy_by_distractors": (f4, (d,)),
        "/heads/complete": (np.dtype("u1"), ()),
    }
    if sample_options:  # absent in files written before options were stored per sample
        layout["/samples/options"] = (STRING, (n, o))
        layout["/samples/option_ids"] = (np.dtype("<i4"), (n, o))
    if shots:
        layout["/samples/shot_ids"] = (STRING, (n,))
    if mcqa:
        layout["/samples/key_positions"] = (np.dtype("<i4"), (n, o))
    if groups:
        layout["/samples/group"] = (STRING, (n,))
    if activations:
        layout["/activations/q"] = (f4, (n, o, layers, heads, d_head))
        layout["/activations/k"] = (f4, (n, layers, kv_heads, d_head))
    return layout


def check_self_description(present, problems):
    """Every dataset has a description; every axis of every dataset but the scales themselves
    has one dimension scale, named as RunLayout.swift names it."""
    scales = {"/" + name for name in DIMENSION_SCALES} | {"/heads/steps_values", "/heads/distractors_values"}
    for name, dataset in sorted(present.items()):
        if not isinstance(dataset.attrs.get("description"), (str, bytes)) or not dataset.attrs["description"]:
            problems.append(f"{name} has no description attribute")
        if name in scales:
            if not dataset.is_scale:
                problems.append(f"{name} is not a dimension scale")
            continue
        for axis, dimension in enumerate(dataset.dims):
            attached = [scale.name for scale in dimension.values()]
            if len(attached) != 1 or attached[0] not in scales:
                problems.append(f"{name} axis {axis} has dimension scales {attached}, expected one of the run's")
    qk_axes = [[scale.name for scale in dimension.values()] for dimension in present["/scores/qk"].dims]
    if qk_axes != [["/sample"], ["/option"], ["/layer"], ["/head"]]:
        problems.append(f"/scores/qk has dimension scales {qk_axes}")


def dtype_name(dataset):
    if h5py.check_string_dtype(dataset.dtype) is not None:
        return STRING
    base = h5py.check_vlen_dtype(dataset.dtype)
    if base is not None:
        return INT32_SEQUENCE if base == np.dtype("<i4") else f"vlen {base}"
    return dataset.dtype


def all_datasets(group):
    found = {}
    group.visititems(lambda name, obj: found.__setitem__("/" + name, obj) if isinstance(obj, h5py.Dataset) else None)
    return found


def check_attributes(attrs, problems):
    """The root attributes; returns the dimensions, or None if they are unusable."""
    for name in STRING_ATTRS:
        if not isinstance(attrs.get(name), str):
            problems.append(f"root attribute {name} is missing or not a string")
    if attrs.get("format") != FORMAT:
        problems.append(f"format is {attrs.get('format')!r}, expected {FORMAT!r}")
    if attrs.get("qk_rope") not in ("pre", "post"):
        problems.append(f"qk_rope is {attrs.get('qk_rope')!r}, expected 'pre' or 'post'")
    dims = {}
    for name in DIMENSION_ATTRS:
        value = attrs.get(name)
        if not isinstance(value, np.integer) or value < 1:
            problems.append(f"root attribute {name} is {value!r}, expected a positive integer")
        else:
            dims[name] = int(value)
    if dims.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        problems.append(f"format_version is {dims['format_version']}, this check knows {FORMAT_VERSION}")
    if len(dims) < len(DIMENSION_ATTRS):
        return None
    if dims["n_heads"] % dims["n_kv_heads"]:
        problems.append(f"n_heads {dims['n_heads']} is not a multiple of n_kv_heads {dims['n_kv_heads']}")
        return None
    scale = attrs.get("qk_scale")
    allowed = (1.0, 1.0 / np.sqrt(dims["d_head"]))
    if not isinstance(scale, np.floating) or not any(abs(float(scale) - a) <= 1e-6 * a for a in allowed):
        problems.append(f"qk_scale is {scale!r}, expected 1 or 1/sqrt(d_head) = {allowed[1]:.6g}")
        return None
    dims["qk_scale"] = float(scale)
    return dims


def check_samples(f, n, o, problems):
    label = f["/samples/label"][()]
    n_tokens = f["/samples/n_tokens"][()]
    anchor = f["/samples/anchor"][()]
    token_lengths = np.array([len(t) for t in f["/samples/token_ids"][()]], dtype=np.int64)
    complete = f["/samples/complete"][()]
    for name, bad in [
        ("/samples/label (not an option index or -1)", (label < -1) | (label >= o)),
        ("/samples/n_tokens (differs from the length of /samples/token_ids)", n_tokens != token_lengths),
        ("/samples/anchor (outside the prompt)", (anchor < 0) | (anchor >= n_tokens)),
        ("/samples/complete (not 0 or 1)", complete > 1),
    ]:
        if bad.any():
            problems.append(f"{name} at rows {np.flatnonzero(bad)[:5].tolist()}")
    for column, values in [("steps", "/heads/steps_values"), ("distractors", "/heads/distractors_values")]:
        stored = f[f"/samples/{column}"][()]
        if (stored < -1).any():
            problems.append(f"/samples/{column} has values below -1")
        known = np.unique(stored[stored >= 0])
        if not np.array_equal(f[values][()], known):
            problems.append(f"{values} is {f[values][()].tolist()}, expected the known {column} {known.tolist()}")
    return complete == 1


def check_scores(f, complete, dims, problems):
    """Finite scores in complete rows, and the scores recomputed from activations if saved."""
    for path in ["/scores/qk", "/scores/model_logit"]:
        values = f[path][()][complete]
        if not np.isfinite(values).all():
            problems.append(f"{path} has non-finite values in complete rows")
    if "/activations/q" not in f:
        return None
    group = dims["n_heads"] // dims["n_kv_heads"]
    worst = 0.0
    rows = np.flatnonzero(complete)
    for start in range(0, len(rows), ROWS_PER_BATCH):
        batch = rows[start:start + ROWS_PER_BATCH]
        q = f["/activations/q"][batch].astype(np.float64)          # [b, O, L, H, Dh]
        k = f["/activations/k"][batch].astype(np.float64)          # [b, L, Hkv, Dh]
        k_per_head = np.repeat(k, group, axis=2)[:, None]          # [b, 1, L, H, Dh]; h -> h // group
        products = q * k_per_head * dims["qk_scale"]
        exact, size = products.sum(axis=-1), np.abs(products).sum(axis=-1)
        error = np.abs(f["/scores/qk"][batch].astype(np.float64) - exact)
        bad = error > RELATIVE_TOLERANCE * size + 1e-30
        if bad.any():
            where = np.argwhere(bad)[0]
            row = int(batch[where[0]])
            problems.append(f"/scores/qk row {row} (option, layer, head) {tuple(int(i) for i in where[1:])} "
                            f"is {f['/scores/qk'][row][tuple(where[1:])]:.7g}, q.k from the activations gives "
                            f"{exact[tuple(where)]:.7g} ({int(bad.sum())} scores differ in rows {batch[0]}..{batch[-1]})")
            return None
        with np.errstate(invalid="ignore", divide="ignore"):
            worst = max(worst, float(np.nanmax(np.where(size > 0, error / size, 0.0), initial=0.0)))
    return worst


def check_heads(f, complete, problems):
    if f["/heads/complete"][()] == 0:
        return False
    if not complete.all():
        problems.append("/heads/complete is set but some samples are not complete")
    for path in ["/heads/accuracy", "/heads/accuracy_by_steps", "/heads/accuracy_by_distractors",
                 "/heads/baseline_accuracy", "/heads/baseline_accuracy_by_steps",
                 "/heads/baseline_accuracy_by_distractors"]:
        values = np.asarray(f[path][()])
        known = values[~np.isnan(values)]
        if ((known < 0) | (known > 1)).any():
            problems.append(f"{path} has accuracies outside [0, 1]")
    return True


def check(path):
    """Problems found in the run file at path, and a summary for a good one."""
    problems = []
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        return [f"cannot open with h5py: {error}"], ""
    with f:
        dims = check_attributes(f.attrs, problems)
        if dims is None:
            return problems, ""
        for path_needed in ["/options", "/samples/id", "/heads/steps_values", "/heads/distractors_values"]:
            if not isinstance(f.get(path_needed), h5py.Dataset) or f[path_needed].ndim != 1:
                return problems + [f"{path_needed} is missing or not one-dimensional"], ""
        n, o = len(f["/samples/id"]), len(f["/options"])
        s, d = len(f["/heads/steps_values"]), len(f["/heads/distractors_values"])
        activations = "/activations/q" in f or "/activations/k" in f
        sample_options = "/samples/options" in f or "/samples/option_ids" in f
        expected = expected_datasets(n, o, dims["n_layers"], dims["n_heads"], dims["n_kv_heads"],
                                     dims["d_head"], s, d, activations, sample_options, "/samples/shot_ids" in f,
                                     "/samples/key_positions" in f, "/samples/group" in f)
        if "shard_index" in f.attrs:
            expected["/shard/rows"] = (np.dtype("<i8"), (n,))
        if "/sample" in f:  # the dimension scales; absent in files written before them
            sizes = [n, o, dims["n_layers"], dims["n_heads"], dims["n_kv_heads"], dims["d_head"]]
            for name, size in zip(DIMENSION_SCALES, sizes):
                expected["/" + name] = (np.dtype("<i4"), (size,))
        present = all_datasets(f)
        for name in sorted(set(present) - set(expected)):
            problems.append(f"unexpected dataset {name}")
        for name, (dtype, shape) in expected.items():
            if name not in present:
                problems.append(f"missing dataset {name}")
                continue
            if dtype_name(present[name]) != dtype:
                problems.append(f"{name} has dtype {dtype_name(present[name])}, expected {dtype}")
            if present[name].shape != shape:
                problems.append(f"{name} has shape {present[name].shape}, expected {shape}")
        if problems:
            return problems, ""
        if "/sample" in f:
            check_self_description(present, problems)
        complete = check_samples(f, n, o, problems)
        worst = check_scores(f, complete, dims, problems)
        heads = check_heads(f, complete, problems)
        shard = check_shard(f, n, problems)
        recomputed = "no activations" if worst is None else \
            f"scores recomputed from activations, worst relative error {worst:.1e}"
        summary = (f"{n} samples, {int(complete.sum())} complete, {o} options, "
                   f"heads {'written' if heads else 'not written'}, {recomputed}{shard}")
        return problems, summary


def main(paths):
    if not paths:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    failed = False
    for path in paths:
        problems, summary = check(path)
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        if problems:
            failed = True
        else:
            print(f"{path}: ok ({summary})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
