"""Tests of what the notebooks rely on: the run file reader (qkrun) on small hand-built run files
whose answers are known, and the checks of `make notebooks` (run_notebooks).

    python3 -m unittest discover -s notebooks-export -p 'test_*.py'
"""
import json
import tempfile
import unittest
from pathlib import Path

import h5py
import jupytext
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

import make_synthetic_run  # noqa: E402
import qkrun  # noqa: E402
import run_notebooks  # noqa: E402

NAN = float("nan")


def header(**changes):
    attrs = {
        "format": "qkprobe-run", "format_version": np.int64(1), "tool_version": "test", "created": "now",
        "model_name": "tiny", "model_path": "-", "model_sha256": "0" * 64, "architecture": "llama",
        "n_layers": np.int64(1), "n_heads": np.int64(3), "n_kv_heads": np.int64(1), "d_head": np.int64(2),
        "dataset_name": "tiny", "dataset_sha256": "1" * 64, "template": "-", "qk_rope": "pre",
        "qk_scale": np.float32(1.0), "threads": np.int64(1),
    }
    attrs.update(changes)
    return attrs


def qk_rows(*rows):
    """Per sample, per head: (score of option 0, score of option 1) -> qk [N, O=2, L=1, H]."""
    return np.array(rows, np.float32).transpose(0, 2, 1)[:, :, None, :]


class TinyRun(unittest.TestCase):
    """Five samples, one layer of three heads: head 0 always answers right, head 1 always wrong,
    head 2 scores both options the same (so it answers option 0). Sample 3 is unlabelled,
    sample 4 unfinished; neither counts."""

    labels = [0, 1, 1, -1, 0]
    steps = [1, 1, 2, 3, 2]
    complete = [1, 1, 1, 1, 0]

    def setUp(self):
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.folder = Path(folder.name)
        qk = qk_rows([(2, 1), (1, 2), (5, 5)],
                     [(1, 3), (4, 0), (0, 0)],
                     [(-2, -1), (1, 0), (7, 7)],
                     [(9, 1), (1, 9), (1, 1)],
                     [(NAN, NAN), (NAN, NAN), (NAN, NAN)])
        logits = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [NAN, NAN]], np.float32)
        self.path = self.write("tiny.h5", header(), qk, logits, self.complete)

    def write(self, name, attrs, qk, logits, complete):
        path = self.folder / name
        make_synthetic_run.write_run_file(path, attrs, [" True", " False"], self.labels, self.steps,
                                          [0, 0, 0, 0, 0], complete, qk, logits, [[1, 2, 3]] * 5)
        return path

    def test_tables_of_an_unfinished_run_are_recomputed_from_the_complete_labelled_rows(self):
        run = qkrun.open_run(self.path)
        self.assertEqual(run.scored.tolist(), [True, True, True, False, False])
        tables = run.tables()
        self.assertIn("recomputed", tables.source)
        self.assertEqual(tables.count, 3)
        np.testing.assert_allclose(tables.accuracy, [[1, 0, 1 / 3]])
        self.assertAlmostEqual(tables.baseline, 2 / 3)
        # steps 3 has only the unlabelled sample: an empty group, NaN, not an error.
        np.testing.assert_array_equal(tables.by_steps.values, [1, 2, 3])
        np.testing.assert_array_equal(tables.by_steps.counts, [2, 1, 0])
        np.testing.assert_allclose(tables.by_steps.heads[:, 0, :], [[1, 0, 0.5], [1, 0, 0], [NAN, NAN, NAN]])
        np.testing.assert_allclose(tables.by_steps.baseline, [0.5, 1, NAN])

    def test_stored_tables_are_used_once_the_run_has_written_them(self):
        qk = np.nan_to_num(qkrun.open_run(self.path).qk, nan=0.0)
        path = self.write("finished.h5", header(), qk, [[1, 0]] * 5, [1] * 5)
        with h5py.File(path, "a") as f:
            f["/heads/accuracy"][0, 2] = 0.25  # not what the scores give: proves where it came from
        tables = qkrun.open_run(path).tables()
        self.assertEqual(tables.source, "/heads tables")
        self.assertEqual(tables.accuracy[0, 2], np.float32(0.25))

    def test_margins_are_right_minus_best_wrong_and_positive_exactly_when_right(self):
        run = qkrun.open_run(self.path)
        margins, labels = run.margins(0, 0)
        np.testing.assert_allclose(margins, [1, 2, 1])  # the last: -1 - (-2)
        np.testing.assert_array_equal(labels, [0, 1, 1])
        np.testing.assert_allclose(run.margins(0, 1)[0], [-1, -4, -1])
        np.testing.assert_allclose(run.margins(0, 2)[0], [0, 0, 0])
        np.testing.assert_allclose(run.model_margins()[0], [1, -1, 1])

    def test_runs_of_different_models_are_refused(self):
        run = qkrun.open_run(self.path)
        qk = np.nan_to_num(run.qk, nan=0.0)
        other = qkrun.open_run(self.write("other.h5", header(model_sha256="f" * 64), qk, [[1, 0]] * 5, [1] * 5))
        with self.assertRaises(SystemExit) as refusal:
            qkrun.require_same_model(run, other)
        self.assertIn("different models (model_sha256", str(refusal.exception))
        qkrun.require_same_model(run, qkrun.open_run(self.path))

    def test_bad_files_are_refused_with_one_line_naming_the_file(self):
        not_a_run = self.folder / "plain.h5"
        with h5py.File(not_a_run, "w") as f:
            f["x"] = 1
        not_hdf5 = self.folder / "text.h5"
        not_hdf5.write_text("hello")
        for path, problem in [(self.folder / "missing.h5", "no such run file"),
                              (not_a_run, "not a qkprobe run file"), (not_hdf5, "not an HDF5 file")]:
            with self.assertRaises(qkrun.RunFileError) as refusal:
                qkrun.open_run(path)
            message = str(refusal.exception)
            self.assertTrue(message.startswith(f"{path}: "), message)
            self.assertIn(problem, message)
            self.assertNotIn("\n", message)


class HeadsAndPCA(unittest.TestCase):
    def test_ranking_puts_the_best_first_keeps_layer_then_head_order_on_ties_and_skips_nan(self):
        accuracy = np.array([[0.5, 0.9, NAN], [0.9, 0.7, 0.5]])
        self.assertEqual(qkrun.ranked_heads(accuracy), [(0, 1), (1, 0), (1, 1), (0, 0), (1, 2)])
        many = np.full((8, 9), 0.5)
        many[6, 2], many[0, 4] = 0.75, NAN
        rest = [(layer, head) for layer in range(8) for head in range(9) if (layer, head) not in [(6, 2), (0, 4)]]
        self.assertEqual(qkrun.ranked_heads(many), [(6, 2)] + rest)

    def test_head_names_round_trip_and_bad_names_are_refused(self):
        self.assertEqual(qkrun.parse_head("l14h3", 30, 9), (14, 3))
        self.assertEqual(qkrun.head_name(14, 3), "L14H3")
        for bad in ["14H3", "L14", "L30H0", "L1H9", "LxH1"]:
            with self.assertRaises(SystemExit):
                qkrun.parse_head(bad, 30, 9)

    def test_pca_finds_the_direction_of_the_spread(self):
        t = np.linspace(-1, 1, 21)
        direction = np.array([1.0, 2.0, 2.0]) / 3
        points = t[:, None] * direction + np.array([5.0, -1.0, 0.5])
        coordinates, explained = qkrun.pca_2d(points)
        np.testing.assert_allclose(np.abs(coordinates[:, 0]), np.abs(t), atol=1e-12)
        np.testing.assert_allclose(coordinates[:, 1], 0, atol=1e-12)
        np.testing.assert_allclose(explained, [1, 0], atol=1e-12)
        single, nothing = qkrun.pca_2d(np.ones((1, 4)))
        np.testing.assert_array_equal(single, [[0, 0]])
        np.testing.assert_array_equal(nothing, [0, 0])


class NotebookChecks(unittest.TestCase):
    def setUp(self):
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.folder = Path(folder.name)

    def save(self, name, draw):
        figure, ax = plt.subplots()
        draw(ax)
        path = self.folder / name
        figure.savefig(path)
        plt.close(figure)
        return path

    def test_blank_and_empty_figures_are_caught_and_a_plot_passes(self):
        blank = self.folder / "blank.png"
        plt.figure().savefig(blank)
        empty = self.save("empty.png", lambda ax: ax.set_title("axes, no data"))
        line = self.save("line.png", lambda ax: ax.plot([0, 1], [0, 1]))
        self.assertIn("blank", run_notebooks.blank_problem(blank))
        self.assertIn("no data", run_notebooks.blank_problem(empty))
        self.assertIsNone(run_notebooks.blank_problem(line))

    def test_a_twin_edited_alone_and_a_notebook_with_outputs_are_caught(self):
        script = "# %% [markdown]\n# A title\n\n# %%\nimport numpy as np\nprint(np.pi)\n"
        notebook, twin = self.folder / "pair.ipynb", self.folder / "pair.py"
        twin.write_text(script, encoding="utf-8")
        jupytext.write(jupytext.reads(script, fmt="py:percent"), notebook)
        self.assertEqual(run_notebooks.drift_problems(notebook), [])

        twin.write_text(script.replace("import numpy as np", "import numpy"), encoding="utf-8")
        problems = run_notebooks.drift_problems(notebook)
        self.assertEqual(len(problems), 1)
        self.assertIn("drifted apart", problems[0])
        self.assertIn("\n  +import numpy\n", problems[0] + "\n")

        twin.write_text(script, encoding="utf-8")
        stored = json.loads(notebook.read_text(encoding="utf-8"))
        stored["cells"][1]["execution_count"] = 1
        notebook.write_text(json.dumps(stored), encoding="utf-8")
        problems = run_notebooks.drift_problems(notebook)
        self.assertEqual(len(problems), 1)
        self.assertIn("stored with outputs (cells [1])", problems[0])

if __name__ == "__main__":
    unittest.main()
