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
# # Transfer: do the heads chosen on one dataset keep working on another?
#
# Heads are picked on a calibration run and checked on a test run of the same model (for example
# the bundled `logic-calibration.jsonl` and `logic-test.jsonl`). Each point is one head: its
# accuracy on the calibration set against its accuracy on the test set. The dashed lines are the
# model baseline on each set, so heads in the upper right quadrant beat the model on both.
#
# Settings (environment variables): `QKPROBE_RUN` the calibration run (default
# `out/calibration.h5` in the repository), `QKPROBE_TEST_RUN` the test run (default
# `out/test.h5`), `QKPROBE_TOP` how many top calibration heads to name (default 5),
# `QKPROBE_FIGURES` where the PNG goes (default `out/figures`).

# %%
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import PercentFormatter

import qkrun

CALIBRATION = qkrun.path_setting("QKPROBE_RUN", "out/calibration.h5")
TEST = qkrun.path_setting("QKPROBE_TEST_RUN", "out/test.h5")
FIGURES = qkrun.figures_folder()
TOP = int(qkrun.setting("QKPROBE_TOP", "5"))

calibration, test = qkrun.open_run(CALIBRATION), qkrun.open_run(TEST)
qkrun.require_same_model(calibration, test)
for run in (calibration, test):
    run.require_scored()
calibration_tables, test_tables = calibration.tables(), test.tables()

# %% [markdown]
# ## The top calibration heads on both sets

# %%
top = qkrun.ranked_heads(calibration_tables.accuracy)[:TOP]
print(f"{'head':>7}  {'calibration':>11}  {'test':>6}")
for layer, head in top:
    print(f"{qkrun.head_name(layer, head):>7}  {calibration_tables.accuracy[layer, head]:>11.1%}  "
          f"{test_tables.accuracy[layer, head]:>6.1%}")
print(f"{'model':>7}  {calibration_tables.baseline:>11.1%}  {test_tables.baseline:>6.1%}")

# %%
x, y = calibration_tables.accuracy.ravel(), test_tables.accuracy.ravel()
both = np.isfinite(x) & np.isfinite(y)
correlation = np.corrcoef(x[both], y[both])[0, 1] if both.sum() > 2 else float("nan")

figure, ax = plt.subplots(figsize=(6.2, 6))
ax.plot([0, 1], [0, 1], color="lightgrey", linewidth=1, zorder=0, label="same accuracy on both")
ax.scatter(x[both], y[both], s=14, color="tab:blue", alpha=0.45,
           label=f"all {int(both.sum())} heads (Pearson r = {correlation:.2f})")
top_x = [calibration_tables.accuracy[layer, head] for layer, head in top]
top_y = [test_tables.accuracy[layer, head] for layer, head in top]
ax.scatter(top_x, top_y, s=40, color="tab:red", edgecolor="black", label=f"top {len(top)} on calibration")
for rank, ((layer, head), px, py) in enumerate(zip(top, top_x, top_y)):
    # Top heads often sit close together: stagger their names so that they do not overlap.
    ax.annotate(qkrun.head_name(layer, head), (px, py), xytext=(-8, 6 - 11 * (rank % 3)),
                textcoords="offset points", fontsize=8, ha="right")
ax.axvline(calibration_tables.baseline, color="black", linestyle="--", linewidth=1)
ax.axhline(test_tables.baseline, color="black", linestyle="--", linewidth=1,
           label=f"model baseline ({calibration_tables.baseline:.0%} / {test_tables.baseline:.0%})")
# Zoom on the heads and baselines (one square range for both axes, so the diagonal stays at 45°):
# a small model's heads can all sit within a few points of chance.
values = np.concatenate([x[both], y[both], [calibration_tables.baseline, test_tables.baseline]])
values = values[np.isfinite(values)]
middle, half = (values.min() + values.max()) / 2, max((values.max() - values.min()) / 2 + 0.02, 0.05)
low, high = max(0.0, middle - half), min(1.0, middle + half)
ax.set_xlim(low, high)
ax.set_ylim(low, high)
ax.set_aspect("equal")
for axis in (ax.xaxis, ax.yaxis):
    axis.set_major_formatter(PercentFormatter(1.0, decimals=0))
ax.set_xlabel(f"calibration accuracy: {calibration.attrs.get('dataset_name')} (n={calibration_tables.count})")
ax.set_ylabel(f"test accuracy: {test.attrs.get('dataset_name')} (n={test_tables.count})")
ax.set_title(f"{calibration.attrs.get('model_name')}: head accuracy, calibration against test", fontsize=10)
ax.legend(fontsize=8, loc="lower right")
qkrun.save_figure(figure, FIGURES, "transfer.png")
plt.show()
