# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Head roles: are the QK heads also previous-token, induction or retrieval heads?
#
# Each point is one head: its score in an attention scan (`qkprobe scan --kind ... --output`)
# against its QK-score accuracy in a probe run. The heads the QK-score ranks highest are red and
# named, so one sees whether the logic heads coincide with the heads of a known role.
#
# Settings (environment variables): `QKPROBE_RUN` the probe run (default `out/calibration.h5`),
# `QKPROBE_SCANS` scan files separated by commas (default
# `out/scan-previous-token.h5,out/scan-induction.h5`), `QKPROBE_TOP` how many top QK heads to
# name (default 5), `QKPROBE_FIGURES` where the PNG goes (default `out/figures`).

# %%
import os
from pathlib import Path

import h5py
import matplotlib.pyplot as plt
import numpy as np

import qkrun

RUN = qkrun.path_setting("QKPROBE_RUN", "out/calibration.h5")
SCANS = ([Path(p) for p in os.environ["QKPROBE_SCANS"].split(",")] if os.environ.get("QKPROBE_SCANS")
         else [qkrun.REPO_ROOT / "out/scan-previous-token.h5", qkrun.REPO_ROOT / "out/scan-induction.h5"])
FIGURES = qkrun.figures_folder()
TOP = int(qkrun.setting("QKPROBE_TOP", "5"))

run = qkrun.open_run(RUN)
run.require_scored()
accuracy = run.tables().accuracy


def read_scan(path):
    """The [L, H] scores and kind of a `qkprobe scan --output` file; one line and exit if unusable."""
    if not path.is_file():
        raise SystemExit(f"{path}: no such scan file (make it with `qkprobe scan --kind induction --output {path}`)")
    with h5py.File(path, "r") as f:
        if "scores" not in f or "kind" not in f.attrs:
            raise SystemExit(f"{path}: not a scan file (no /scores or kind attribute)")
        scores = f["scores"][...]
        kind = f.attrs["kind"]
    if scores.shape != accuracy.shape:
        raise SystemExit(f"{path}: scores are {scores.shape}, the run's heads {accuracy.shape}: another model?")
    return (kind.decode() if isinstance(kind, bytes) else str(kind)), scores


scans = [read_scan(path) for path in SCANS]
top = qkrun.ranked_heads(accuracy)[:TOP]
for kind, scores in scans:
    best = np.unravel_index(np.nanargmax(scores), scores.shape)
    print(f"{kind}: strongest head {qkrun.head_name(*best)} ({scores[best]:.3f}); "
          + ", ".join(f"{qkrun.head_name(l, h)} {scores[l, h]:.3f}" for l, h in top) + " (top QK heads)")

# %%
figure, axes = plt.subplots(1, len(scans), figsize=(5.2 * len(scans), 4.6), squeeze=False)
for ax, (kind, scores) in zip(axes[0], scans):
    x, y = scores.ravel(), accuracy.ravel()
    ax.scatter(x, y, s=14, color="tab:blue", alpha=0.45, label=f"all {x.size} heads")
    tx = [scores[l, h] for l, h in top]
    ty = [accuracy[l, h] for l, h in top]
    ax.scatter(tx, ty, s=40, color="tab:red", edgecolor="black", label=f"top {len(top)} by QK accuracy")
    for rank, ((l, h), px, py) in enumerate(zip(top, tx, ty)):
        ax.annotate(qkrun.head_name(l, h), (px, py), xytext=(6, 4 - 10 * (rank % 3)), textcoords="offset points", fontsize=8)
    ax.axhline(run.tables().baseline, color="black", linestyle="--", linewidth=1, label="model baseline")
    ax.set_xlabel(f"{kind} score")
    ax.set_ylabel("QK-score accuracy")
    ax.set_title(kind, fontsize=10)
    ax.legend(fontsize=8)
figure.suptitle(f"{run.attrs.get('model_name')}: QK heads against attention-scan scores", fontsize=11)
qkrun.save_figure(figure, FIGURES, "head_roles.png")
plt.show()
