"""Reading qkprobe run files for the notebooks, with h5py and numpy only.

The run file's layout is in docs/design.md ("The run file") and Sources/RunStore/RunLayout.swift.
This module reads it into numpy arrays and computes what more than one notebook needs: head
accuracy tables, QK-score margins, a 2-D PCA. The notebooks do the plotting.

Rows count towards accuracy only when they are complete (/samples/complete == 1: an interrupted
run leaves the others unwritten) and labelled (/samples/label >= 0), as in qkprobe itself. A head
answers the option with the largest QK-score, the model the option with the largest logit; the
first option wins a tie, as numpy's argmax does and as qkprobe does.
"""
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
FORMAT = "qkprobe-run"
FORMAT_VERSION = 1
REQUIRED_DATASETS = [
    "/options", "/samples/label", "/samples/steps", "/samples/distractors", "/samples/complete",
    "/scores/qk", "/scores/model_logit",
]


class RunFileError(SystemExit):
    """A run file that cannot be used. A SystemExit, so that a script run headless ends with this
    one line on stderr and exit status 1 instead of a traceback; Jupyter shows the line too."""

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}")


def setting(variable, default):
    """A notebook setting from the environment, so that the same script runs headless."""
    return os.environ.get(variable) or default


def path_setting(variable, default_in_repo):
    """A path from the environment (relative to the current folder), or a default path inside the
    repository (whatever folder the notebook runs in)."""
    value = os.environ.get(variable)
    return Path(value) if value else REPO_ROOT / default_in_repo


def figures_folder():
    """Where figures go: $QKPROBE_FIGURES, by default out/figures in the repository."""
    folder = path_setting("QKPROBE_FIGURES", "out/figures")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_figure(figure, folder, name):
    path = Path(folder) / name
    figure.savefig(path, dpi=110, bbox_inches="tight", facecolor="white")
    print(f"wrote {path}")
    return path


def head_name(layer, head):
    """Heads are named as qkprobe names them: layer and head, from 0."""
    return f"L{layer}H{head}"


def parse_head(text, layers, heads):
    """(layer, head) from a name such as "L14H3", checked against the model's shape."""
    name = text.strip().upper()
    try:
        layer_text, head_text = name[1:].split("H")
        layer, head = int(layer_text), int(head_text)
    except ValueError:
        raise SystemExit(f"head {text!r} is not a head name such as L14H3") from None
    if not (name.startswith("L") and 0 <= layer < layers and 0 <= head < heads):
        raise SystemExit(f"head {text!r} is not in a model with {layers} layers of {heads} heads")
    return layer, head


def ranked_heads(accuracy):
    """(layer, head) pairs, best accuracy first; ties keep layer-then-head order, heads with no
    accuracy (NaN) are left out."""
    flat = accuracy.ravel()
    order = [int(i) for i in np.argsort(-flat, kind="stable") if np.isfinite(flat[i])]
    return [divmod(i, accuracy.shape[1]) for i in order]


@dataclass(frozen=True)
class AccuracyByGroup:
    """Accuracy broken down by steps or by distractors."""
    values: np.ndarray      # [G] the steps or distractors value of each group
    counts: np.ndarray      # [G] complete, labelled rows in each group
    heads: np.ndarray       # [G, L, H], NaN for an empty group
    baseline: np.ndarray    # [G]


@dataclass(frozen=True)
class HeadTables:
    count: int              # complete, labelled rows
    accuracy: np.ndarray    # [L, H]
    baseline: float         # the model's own accuracy
    by_steps: AccuracyByGroup
    by_distractors: AccuracyByGroup
    source: str             # where the tables come from, for the reader


@dataclass(frozen=True)
class Run:
    """One run file, read into memory (all but the activations, which can be large)."""
    path: Path
    attrs: dict
    options: list
    labels: np.ndarray        # [N] option index, -1 where the dataset gives none
    steps: np.ndarray         # [N] -1 where unknown
    distractors: np.ndarray   # [N] -1 where unknown
    complete: np.ndarray      # [N] bool
    qk: np.ndarray            # [N, O, L, H]
    model_logit: np.ndarray   # [N, O]
    has_activations: bool

    @property
    def layers(self):
        return int(self.attrs["n_layers"])

    @property
    def heads(self):
        return int(self.attrs["n_heads"])

    @property
    def title(self):
        return f"{self.attrs.get('model_name', '?')} on {self.attrs.get('dataset_name', '?')}"

    @property
    def scored(self):
        """Rows that count: complete and labelled."""
        return self.complete & (self.labels >= 0)

    def require_scored(self):
        if not self.scored.any():
            raise RunFileError(self.path, "no complete, labelled samples: nothing to measure accuracy on")

    def tables(self):
        """The head accuracy tables: /heads as written at the end of a run, or, for a run that has
        not finished, recomputed from the complete rows."""
        with h5py.File(self.path, "r") as f:
            steps_values = f["/heads/steps_values"][()] if "/heads/steps_values" in f else None
            distractors_values = f["/heads/distractors_values"][()] if "/heads/distractors_values" in f else None
            written = "/heads/complete" in f and f["/heads/complete"][()] == 1
            stored = {name: f[f"/heads/{name}"][()] for name in (
                "accuracy", "accuracy_by_steps", "accuracy_by_distractors", "baseline_accuracy",
                "baseline_accuracy_by_steps", "baseline_accuracy_by_distractors")} if written else None
        if steps_values is None:
            steps_values = np.unique(self.steps[self.steps >= 0])
        if distractors_values is None:
            distractors_values = np.unique(self.distractors[self.distractors >= 0])
        if stored is not None:
            return HeadTables(
                count=int(self.scored.sum()), accuracy=stored["accuracy"],
                baseline=float(stored["baseline_accuracy"]),
                by_steps=AccuracyByGroup(steps_values, self._counts(self.steps, steps_values),
                                         stored["accuracy_by_steps"], stored["baseline_accuracy_by_steps"]),
                by_distractors=AccuracyByGroup(distractors_values,
                                               self._counts(self.distractors, distractors_values),
                                               stored["accuracy_by_distractors"],
                                               stored["baseline_accuracy_by_distractors"]),
                source="/heads tables")
        accuracy, baseline = self._accuracy(self.scored)
        return HeadTables(
            count=int(self.scored.sum()), accuracy=accuracy, baseline=baseline,
            by_steps=self._by_group(self.steps, steps_values),
            by_distractors=self._by_group(self.distractors, distractors_values),
            source=f"recomputed from the {int(self.complete.sum())} complete rows of /scores "
                   f"(the run has not written its /heads tables)")

    def _counts(self, column, values):
        return np.array([int((self.scored & (column == v)).sum()) for v in values], dtype=int)

    def _accuracy(self, rows):
        """Head accuracy [L, H] and baseline over the given rows; NaN when there are none."""
        if not rows.any():
            return np.full((self.layers, self.heads), np.nan), float("nan")
        labels = self.labels[rows]
        heads = (self.qk[rows].argmax(axis=1) == labels[:, None, None]).mean(axis=0)
        return heads, float((self.model_logit[rows].argmax(axis=1) == labels).mean())

    def _by_group(self, column, values):
        groups = [self._accuracy(self.scored & (column == v)) for v in values]
        return AccuracyByGroup(
            values=np.asarray(values), counts=self._counts(column, values),
            heads=np.stack([g[0] for g in groups]) if groups else np.empty((0, self.layers, self.heads)),
            baseline=np.array([g[1] for g in groups], dtype=float))

    def margins(self, layer, head):
        """For each complete, labelled row: the QK-score of the right option minus the largest
        QK-score of a wrong one (above 0 exactly when the head answers right), and the label."""
        rows = self.scored
        return _right_minus_wrong(self.qk[rows, :, layer, head], self.labels[rows]), self.labels[rows]

    def option_scores(self, layer, head):
        """For each complete, labelled row: the head's raw QK-score of every option, [rows, O],
        and the label. A head that leans to one option scores it higher whatever the label."""
        rows = self.scored
        return self.qk[rows, :, layer, head], self.labels[rows]

    def model_margins(self):
        """The same margin for the model's own logits."""
        rows = self.scored
        return _right_minus_wrong(self.model_logit[rows], self.labels[rows]), self.labels[rows]

    def queries(self, layer, head):
        """The saved queries of one head at the option tokens, [rows, O, d_head], for the complete,
        labelled rows, and their labels. Reads only that head's slice of /activations/q."""
        if not self.has_activations:
            raise RunFileError(self.path, "has no /activations (probe with --save-activations to save them)")
        with h5py.File(self.path, "r") as f:
            q = f["/activations/q"][:, :, layer, head, :]
        return q[self.scored], self.labels[self.scored]


def _right_minus_wrong(scores, labels):
    """scores [n, O]: the score of the labelled option minus the best other option's."""
    rows = np.arange(len(labels))
    right = scores[rows, labels]
    wrong = scores.astype(float).copy()
    wrong[rows, labels] = -np.inf
    return right - wrong.max(axis=1)


def open_run(path):
    """Reads a run file, or stops with one line that names the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise RunFileError(path, "no such run file (make one with `qkprobe probe --output ...`, "
                                 "or set the environment variable that names it)")
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise RunFileError(path, f"not an HDF5 file h5py can open ({error})") from None
    with f:
        attrs = {name: _plain(value) for name, value in f.attrs.items()}
        if attrs.get("format") != FORMAT:
            raise RunFileError(path, f"not a qkprobe run file (format attribute is {attrs.get('format')!r})")
        if attrs.get("format_version") != FORMAT_VERSION:
            raise RunFileError(path, f"run file format_version {attrs.get('format_version')!r} is not "
                                     f"supported (these notebooks read {FORMAT_VERSION})")
        missing = [name for name in REQUIRED_DATASETS if name not in f]
        if missing:
            raise RunFileError(path, f"missing {', '.join(missing)}")
        options = [_plain(o) for o in f["/options"][()]]
        qk = f["/scores/qk"][()]
        n = len(f["/samples/label"])
        expected = (n, len(options), attrs.get("n_layers"), attrs.get("n_heads"))
        if qk.shape != expected:
            raise RunFileError(path, f"/scores/qk has shape {qk.shape}, expected {expected}")
        labels = f["/samples/label"][()].astype(int)
        if ((labels < -1) | (labels >= len(options))).any():
            raise RunFileError(path, "/samples/label holds a value that is neither an option index nor -1")
        return Run(path=path, attrs=attrs, options=options, labels=labels,
                   steps=f["/samples/steps"][()].astype(int),
                   distractors=f["/samples/distractors"][()].astype(int),
                   complete=f["/samples/complete"][()] == 1, qk=qk,
                   model_logit=f["/scores/model_logit"][()], has_activations="/activations/q" in f)


def _plain(value):
    """h5py gives strings as bytes in some places and numpy scalars elsewhere: plain Python."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value


def require_same_model(a, b):
    """Stops unless two runs probed the same model: comparing their heads means nothing otherwise."""
    differences = [f"{name} {a.attrs.get(name)!r} vs {b.attrs.get(name)!r}"
                   for name in ("model_sha256", "n_layers", "n_heads")
                   if a.attrs.get(name) != b.attrs.get(name)]
    if differences:
        raise SystemExit(f"{a.path} and {b.path} are runs of different models "
                         f"({'; '.join(differences)}): their heads cannot be compared")


def describe(path):
    """Prints the root attributes and every dataset with its shape and type."""
    with h5py.File(path, "r") as f:
        for name, value in f.attrs.items():
            print(f"  @{name} = {_plain(value)!r}")
        f.visititems(lambda name, obj: print(f"  /{name}  {obj.shape}  {obj.dtype}")
                     if isinstance(obj, h5py.Dataset) else None)


def pca_2d(points):
    """The first two principal components of points [n, d] (rows centred, numpy SVD): the
    coordinates [n, 2] and the fraction of the variance each explains."""
    centred = points - points.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    # Fewer than two components (a single point, or one dimension): the missing ones are 0.
    kept = min(2, len(vt))
    coordinates, explained = np.zeros((len(points), 2)), np.zeros(2)
    coordinates[:, :kept] = centred @ vt[:kept].T
    variance = singular ** 2
    if variance.sum() > 0:
        explained[:kept] = variance[:kept] / variance.sum()
    return coordinates, explained
