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
# # Head accuracy
#
# Which attention heads "know" the answer? For every layer and head, the head answers the option
# whose token's query has the largest QK-score with the key at the anchor (the token before
# "Answer"); its accuracy is how often that is the right option. The model baseline is the
# model's own answer, the option with the largest logit.
#
# This notebook reads one run file made by `qkprobe probe` and plots
# 1. the head accuracy heatmap (layers × heads), coloured against the model baseline;
# 2. accuracy against the number of reasoning steps and of distractors, for the top heads and
#    the baseline.
#
# Settings (environment variables, so that the same code runs headless with `make notebooks`):
# `QKPROBE_RUN` the run file (default `out/calibration.h5` in the repository),
# `QKPROBE_FIGURES` where the PNGs go (default `out/figures`), `QKPROBE_TOP` how many top heads
# to follow (default 5).

# %%
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import PercentFormatter

import qkrun

RUN = qkrun.path_setting("QKPROBE_RUN", "out/calibration.h5")
FIGURES = qkrun.figures_folder()
TOP = int(qkrun.setting("QKPROBE_TOP", "5"))

# %% [markdown]
# ## What is in the file
#
# The run file is plain HDF5: root attributes say what was probed and how, `/scores/qk` holds
# every QK-score `[sample, option, layer, head]`, `/heads` the accuracy tables.

# %%
run = qkrun.open_run(RUN)
qkrun.describe(RUN)
run.require_scored()
tables = run.tables()
ranked = qkrun.ranked_heads(tables.accuracy)
top = ranked[:TOP]
print(f"\n{run.title}: {tables.count} complete, labelled samples; tables: {tables.source}")
print(f"model baseline {tables.baseline:.1%}")
for layer, head in top:
    print(f"  {qkrun.head_name(layer, head):>7}  {tables.accuracy[layer, head]:.1%}")

# %% [markdown]
# ## The heatmap
#
# Red heads beat the model, blue heads fall below it, white is the baseline itself; outlined
# heads beat it. Grey cells have no accuracy (no labelled sample).

# %%
def heatmap(ax, accuracy, baseline):
    finite = accuracy[np.isfinite(accuracy)]
    spread = max(float(np.abs(finite - baseline).max()) if finite.size else 0.0, 0.01)
    colours = plt.get_cmap("RdBu_r").copy()
    colours.set_bad("#cccccc")
    image = ax.imshow(np.ma.masked_invalid(accuracy), cmap=colours, vmin=baseline - spread,
                      vmax=baseline + spread, aspect="auto", interpolation="nearest")
    layers, heads = accuracy.shape
    for layer, head in zip(*np.nonzero(np.nan_to_num(accuracy, nan=-1) > baseline)):
        ax.add_patch(Rectangle((head - 0.5, layer - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=1.2))
    for layer, head in top:
        ax.text(head, layer, f"{accuracy[layer, head]:.0%}".rstrip("%"), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(heads), [f"H{h}" for h in range(heads)], fontsize=8)
    step = max(1, layers // 15)
    ax.set_yticks(range(0, layers, step), [f"L{l}" for l in range(0, layers, step)], fontsize=8)
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    bar = plt.colorbar(image, ax=ax, format=PercentFormatter(1.0, decimals=0))
    bar.ax.axhline(baseline, color="black", linewidth=2)
    bar.set_label("head accuracy")


figure, ax = plt.subplots(figsize=(max(6.0, 2.2 + 0.42 * run.heads), max(3.5, 1.8 + 0.2 * run.layers)))
heatmap(ax, tables.accuracy, tables.baseline)
ax.set_title(f"{run.title}\nQK-score head accuracy, n={tables.count}; top {len(top)} heads labelled in %\n"
             f"model baseline {tables.baseline:.1%} (black line on the colour bar); outlined heads beat it",
             fontsize=9)
qkrun.save_figure(figure, FIGURES, "head_accuracy.png")
plt.show()

# %% [markdown]
# ## Robustness: accuracy by steps and by distractors
#
# The paper asks whether the heads that answer well keep doing so on deeper problems (more steps
# of reasoning) and with more distracting sentences. The tick labels give each group's size; a
# group without labelled samples leaves a gap, and a breakdown that no labelled sample has (a
# dataset without steps, say) is not drawn.

# %%
def by_group(ax, group, what):
    x = np.arange(len(group.values))
    for layer, head in top:
        ax.plot(x, group.heads[:, layer, head], marker="o",
                label=f"{qkrun.head_name(layer, head)} ({tables.accuracy[layer, head]:.0%})")
    ax.plot(x, group.baseline, marker="s", color="black", linestyle="--", linewidth=2,
            label=f"model baseline ({tables.baseline:.0%})")
    ax.axhline(1 / len(run.options), color="grey", linestyle=":", linewidth=1, label="chance")
    ax.set_xticks(x, [f"{v}\nn={n}" for v, n in zip(group.values, group.counts)], fontsize=8)
    ax.set_xlabel(what)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(axis="y", alpha=0.3)


known = [(group, what) for group, what in [(tables.by_steps, "steps"), (tables.by_distractors, "distractors")]
         if group.counts.sum() > 0]
if not known:
    print("no labelled sample has a known number of steps or distractors: nothing to break down")
else:
    figure, axes = plt.subplots(1, len(known), figsize=(1 + 5 * len(known), 4.2), sharey=True, squeeze=False)
    for ax, (group, what) in zip(axes[0], known):
        by_group(ax, group, what)
    axes[0][0].set_ylabel("accuracy")
    figure.legend(*axes[0][0].get_legend_handles_labels(), loc="center left", bbox_to_anchor=(1.0, 0.5),
                  fontsize=8)
    figure.suptitle(f"{run.title}: top {len(top)} heads and the model, by "
                    f"{' and by '.join(what for _, what in known)}", fontsize=10)
    figure.tight_layout()
    qkrun.save_figure(figure, FIGURES, "accuracy_by_steps_and_distractors.png")
    plt.show()
