#!/usr/bin/env python3
"""Open qkprobe run files with xarray (engine h5netcdf) and check their named dimensions.

usage: check_xarray.py RUN.h5 [RUN.h5 ...]

A run file's HDF5 dimension scales make it readable as netCDF-4: each group opens as an
xarray Dataset whose variables carry the dimension names sample, option, layer, head (and
kv_head, d_head for saved activations), with no phony dimensions. Prints one "ok" line per file.
"""
import sys

import xarray as xr

EXPECTED = {
    "scores": {"qk": ("sample", "option", "layer", "head"), "model_logit": ("sample", "option")},
    "samples": {"id": ("sample",), "label": ("sample",), "options": ("sample", "option"),
                "complete": ("sample",)},
    "heads": {"accuracy": ("layer", "head"), "accuracy_by_steps": ("steps_values", "layer", "head")},
    "activations": {"q": ("sample", "option", "layer", "head", "d_head"),
                    "k": ("sample", "layer", "kv_head", "d_head")},
}


def check(path):
    problems = []
    root = xr.open_dataset(path, engine="h5netcdf")
    groups = [g for g in EXPECTED if g != "activations" or root.sizes.get("d_head") is not None]
    for group in groups:
        try:
            data = xr.open_dataset(path, engine="h5netcdf", group=group, phony_dims="sort")
        except OSError:
            if group == "activations":
                continue  # a run without saved activations has no such group
            raise
        phony = [d for d in data.sizes if str(d).startswith("phony_dim")]
        if phony:
            problems.append(f"/{group} has unnamed dimensions {phony}")
        for name, dims in EXPECTED[group].items():
            if name not in data:
                problems.append(f"/{group}/{name} is missing")
            elif data[name].dims != dims:
                problems.append(f"/{group}/{name} has dimensions {data[name].dims}, expected {dims}")
            elif not data[name].attrs.get("description"):
                problems.append(f"/{group}/{name} has no description")
    qk = xr.open_dataset(path, engine="h5netcdf", group="scores")["qk"]
    summary = ", ".join(f"{d} {n}" for d, n in qk.sizes.items())
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
        failed |= bool(problems)
        if not problems:
            print(f"{path}: ok (xarray: /scores/qk over {summary})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
