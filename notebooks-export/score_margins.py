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
# # One head up close: QK-score margins and its queries
#
# For one head (by default the most accurate one), this notebook plots
# 0. each option's raw QK-score split by label (a head biased towards one option looks biased);
# 1. the distribution of its QK-score margin, the score of the right option minus the best score
#    of a wrong one, split by the label (a head answers right exactly when its margin is above 0;
#    a head that leans towards one option shows as one label's distribution shifted), beside the
#    same margin for the model's own logits;
# 2. when the run saved activations (`qkprobe probe --save-activations`), a 2-D PCA of the head's
#    queries at the option tokens, coloured by label.
#
# Settings (environment variables): `QKPROBE_RUN` the run file (default `out/calibration.h5` in the
# repository), `QKPROBE_HEAD` the head, such as `L14H3` (default: the most accurate head),
# `QKPROBE_FIGURES` where the PNGs go (default `out/figures`).

# %%
import matplotlib.pyplot as plt
import numpy as np

import qkrun

RUN = qkrun.path_setting("QKPROBE_RUN", "out/calibration.h5")
FIGURES = qkrun.figures_folder()

run = qkrun.open_run(RUN)
run.require_scored()
tables = run.tables()
if qkrun.setting("QKPROBE_HEAD", ""):
    layer, head = qkrun.parse_head(qkrun.setting("QKPROBE_HEAD", ""), run.layers, run.heads)
else:
    layer, head = qkrun.ranked_heads(tables.accuracy)[0]
name = qkrun.head_name(layer, head)
print(f"{run.title}: head {name}, accuracy {tables.accuracy[layer, head]:.1%}, "
      f"model baseline {tables.baseline:.1%}")

# %% [markdown]
# ## Margins, split by label
#
# Everything right of the dashed line is answered right. The two panels have different units
# (a QK-score is a dot product of a query and a key, a logit is the model's output), so compare
# their shapes, not their widths.

# %%
def margin_histogram(ax, margins, labels, what):
    finite = margins[np.isfinite(margins)]
    edges = np.histogram_bin_edges(finite if finite.size else [0.0], bins=40)
    for option_index, option in enumerate(run.options):
        values = margins[(labels == option_index) & np.isfinite(margins)]
        if values.size:
            ax.hist(values, bins=edges, alpha=0.55, label=f"label {option.strip()!r} (n={values.size})")
    ax.axvline(0, color="black", linestyle="--", linewidth=1)
    right = float((finite > 0).mean()) if finite.size else float("nan")
    ax.set_title(f"{what}: {right:.1%} answered right", fontsize=10)
    ax.set_ylabel("samples")
    ax.legend(fontsize=8)


head_margins, labels = run.margins(layer, head)
model_margins, _ = run.model_margins()
figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
margin_histogram(left, head_margins, labels, f"head {name}")
left.set_xlabel("QK-score of the right option − best wrong option")
margin_histogram(right, model_margins, labels, "model baseline")
right.set_xlabel("logit of the right option − best wrong option")
figure.suptitle(f"{run.title}: margins by label (qk_rope={run.attrs.get('qk_rope')}, "
                f"qk_scale={run.attrs.get('qk_scale'):.3g})", fontsize=10)
figure.tight_layout()
qkrun.save_figure(figure, FIGURES, "score_margins.png")
plt.show()

# %% [markdown]
# ## Each option's raw score, split by label
#
# The margin hides a bias that the raw scores show: one panel per option, its QK-score on the
# samples of each label. A head that knows the answer scores an option higher on the samples
# where it is right; a head that always prefers one option scores it higher on every label.

# %%
scores, score_labels = run.option_scores(layer, head)              # [n, O]
figure, axes = plt.subplots(1, len(run.options), figsize=(4.6 * len(run.options), 3.8), sharey=True,
                            squeeze=False)
for option_index, ax in enumerate(axes[0]):
    column = scores[:, option_index]
    finite = column[np.isfinite(column)]
    edges = np.histogram_bin_edges(finite if finite.size else [0.0], bins=40)
    for label_index, label in enumerate(run.options):
        values = column[(score_labels == label_index) & np.isfinite(column)]
        if values.size:
            ax.hist(values, bins=edges, alpha=0.55,
                    label=f"label {label.strip()!r} (n={values.size}, mean {values.mean():.3g})")
    ax.set_title(f"QK-score of {run.options[option_index].strip()!r}", fontsize=10)
    ax.set_xlabel("QK-score")
    ax.legend(fontsize=8)
axes[0][0].set_ylabel("samples")
figure.suptitle(f"{run.title}: head {name}, each option's score by label", fontsize=10)
figure.tight_layout()
qkrun.save_figure(figure, FIGURES, "option_scores.png")
plt.show()

# %% [markdown]
# ## The head's queries at the option tokens
#
# Each sample has one query per option token (the option appended to the prompt). The PCA is fit
# on all of them together; each panel shows the queries at one option's token, coloured by the
# sample's label.

# %%
if not run.has_activations:
    print(f"{run.path} has no /activations: probe with --save-activations to plot the queries")
else:
    queries, labels = run.queries(layer, head)                       # [n, O, d_head]
    n, options, d_head = queries.shape
    coordinates, explained = qkrun.pca_2d(queries.reshape(n * options, d_head).astype(np.float64))
    coordinates = coordinates.reshape(n, options, -1)
    figure, axes = plt.subplots(1, options, figsize=(4.6 * options, 4.2), sharex=True, sharey=True,
                                squeeze=False)
    for option_index, ax in enumerate(axes[0]):
        for label_index, label in enumerate(run.options):
            points = coordinates[labels == label_index, option_index]
            ax.scatter(points[:, 0], points[:, 1], s=10, alpha=0.6,
                       label=f"label {label.strip()!r} (n={len(points)})")
        ax.set_title(f"query at {run.options[option_index].strip()!r}", fontsize=10)
        ax.set_xlabel(f"PC1 ({explained[0]:.0%} of the variance)")
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel(f"PC2 ({explained[1]:.0%})")
    figure.suptitle(f"{run.title}: queries of head {name} ({run.attrs.get('qk_rope')}-rotary), PCA", fontsize=10)
    figure.tight_layout()
    qkrun.save_figure(figure, FIGURES, "query_pca.png")
    plt.show()
