#!/usr/bin/env python3
"""Compare two qkprobe run files bit for bit, with nothing but h5py and numpy.

usage: compare_runs.py A.h5 B.h5

Every dataset of either file (per-sample data, head tables, options; whatever the layout holds)
must be in both, with the same dtype, shape and bytes (NaN == NaN when the bits agree; strings
and variable-length sequences element by element), and so must every root attribute but
`created` and `model_path`, which say when and from where a run was made. Made for checking a
merge of shards (`qkprobe merge`) against the unsharded run.

Prints one line: "identical: ..." with exit status 0, or the first differences on stderr and 1.
"""
import sys

import h5py
import numpy as np

IGNORED_ATTRIBUTES = {"created", "model_path"}


def datasets(f):
    found = {}
    f.visititems(lambda name, obj: found.__setitem__("/" + name, obj) if isinstance(obj, h5py.Dataset) else None)
    return found


def same_values(a, b):
    if a.dtype.kind == "O" or b.dtype.kind == "O":
        return len(a) == len(b) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a.ravel(), b.ravel()))
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def compare(path_a, path_b):
    problems = []
    with h5py.File(path_a, "r") as a, h5py.File(path_b, "r") as b:
        names_a = set(a.attrs) - IGNORED_ATTRIBUTES
        names_b = set(b.attrs) - IGNORED_ATTRIBUTES
        for name in sorted(names_a ^ names_b):
            problems.append(f"root attribute {name} is only in {path_a if name in names_a else path_b}")
        for name in sorted(names_a & names_b):
            if not same_values(np.asarray(a.attrs[name]), np.asarray(b.attrs[name])):
                problems.append(f"root attribute {name}: {a.attrs[name]!r} != {b.attrs[name]!r}")
        da, db = datasets(a), datasets(b)
        for name in sorted(set(da) ^ set(db)):
            problems.append(f"{name} is only in {path_a if name in da else path_b}")
        common = sorted(set(da) & set(db))
        for name in common:
            x, y = da[name], db[name]
            if x.dtype != y.dtype or x.shape != y.shape:
                problems.append(f"{name}: {x.dtype} {x.shape} != {y.dtype} {y.shape}")
            elif not same_values(x[()] if x.shape == () else x[...], y[()] if y.shape == () else y[...]):
                problems.append(f"{name}: the values differ")
    return problems, len(common)


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    problems, count = compare(sys.argv[1], sys.argv[2])
    if problems:
        for problem in problems[:20]:
            print(f"{sys.argv[1]} vs {sys.argv[2]}: {problem}", file=sys.stderr)
        return 1
    print(f"identical: {count} datasets and the root attributes (but created, model_path) of {sys.argv[1]} and {sys.argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
