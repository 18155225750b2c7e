#!/usr/bin/env python3
"""Run the notebooks headless and check what they make (the `make notebooks` target).

usage: run_notebooks.py --run CALIBRATION.h5 --test-run TEST.h5 --figures FOLDER

1. Every notebook (.ipynb) here has a jupytext percent twin (.py) with the same cells, and is
   stored without outputs; every .py with a jupytext header has its notebook.
2. Both run files exist.
3. Each .py twin runs with matplotlib's Agg backend, the run files and the figure folder given
   through the environment (QKPROBE_RUN, QKPROBE_TEST_RUN, QKPROBE_FIGURES), as a user would run
   it; it must exit with status 0.
4. Each figure it must make exists afterwards (stale copies are removed first) and is not blank.

Exit status 0 when everything holds, 1 otherwise, with one line per problem.
"""
import argparse
import difflib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import matplotlib.image

import qkrun

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
SYNC_HINT = "edit one and run `jupytext --sync notebooks-export/*.ipynb` (the newer file wins)"


def expected_figures(run):
    """Notebook -> the PNGs it must write for this calibration run (None: a run that cannot be
    read, on which the notebooks fail and say why). A new notebook must be listed here."""
    breakdown = run is not None and (run.scored & ((run.steps >= 0) | (run.distractors >= 0))).any()
    activations = run is not None and run.has_activations
    return {
        "head_accuracy": ["head_accuracy.png"] + (["accuracy_by_steps_and_distractors.png"] if breakdown else []),
        "score_margins": ["score_margins.png", "option_scores.png"] + (["query_pca.png"] if activations else []),
        "transfer": ["transfer.png"],
        "head_roles": ["head_roles.png"],
    }


def drift_problems(notebook_path):
    """Why an .ipynb and its .py twin are not the same notebook, or why the .ipynb is not clean."""
    twin = notebook_path.with_suffix(".py")
    if not twin.is_file():
        return [f"{notebook_path.name} has no twin {twin.name}: run `jupytext --sync {notebook_path}`"]
    problems = []
    stored = json.loads(notebook_path.read_text(encoding="utf-8"))
    with_outputs = [i for i, cell in enumerate(stored["cells"])
                    if cell.get("outputs") or cell.get("execution_count") is not None]
    if with_outputs:
        problems.append(f"{notebook_path.name} is stored with outputs (cells {with_outputs}): clear them "
                        f"(e.g. `jupyter nbconvert --clear-output --inplace {notebook_path.name}`)")
    # The cells, not the text: the .py header records the jupytext version that wrote it.
    notebook = jupytext.read(notebook_path)
    script = jupytext.read(twin, fmt="py:percent")
    cells = [(c.cell_type, c.source) for c in notebook.cells]
    if cells != [(c.cell_type, c.source) for c in script.cells]:
        diff = difflib.unified_diff(jupytext.writes(notebook, fmt="py:percent").splitlines(),
                                    twin.read_text(encoding="utf-8").splitlines(),
                                    f"{notebook_path.name} (as percent text)", twin.name, lineterm="", n=1)
        problems.append(f"{notebook_path.name} and {twin.name} have drifted apart: {SYNC_HINT}\n  "
                        + "\n  ".join(list(diff)[:40]))
    return problems


def unpaired_scripts(notebooks):
    """Notebook scripts (percent cells) whose .ipynb is missing."""
    def is_notebook_script(path):
        return any(line.startswith("# %%") for line in path.read_text(encoding="utf-8").splitlines())
    return [f"{script.name} is a notebook script without {script.stem}.ipynb: run `jupytext --sync {script}`"
            for script in sorted(HERE.glob("*.py"))
            if script.with_suffix(".ipynb") not in notebooks and is_notebook_script(script)]


def blank_problem(path):
    """Why a PNG looks blank, or None. A figure that draws its data shows coloured pixels (every
    plot here colours its data); axes and text alone are grey."""
    try:
        pixels = matplotlib.image.imread(path)[..., :3]
    except (OSError, ValueError, SyntaxError) as error:
        return f"cannot be read as a PNG ({error})"
    if pixels.size == 0 or pixels.std() < 0.02:
        return f"is blank (pixel standard deviation {pixels.std():.4f})"
    coloured = float(((pixels.max(axis=-1) - pixels.min(axis=-1)) > 0.25).mean())
    if coloured < 0.002:
        return f"shows no data: only {coloured:.2%} of its pixels are coloured"
    return None


def readable_run(path):
    try:
        return qkrun.open_run(path)
    except SystemExit:
        return None  # the notebooks say why they cannot read it


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="calibration run file")
    parser.add_argument("--test-run", type=Path, required=True, help="test run file of the same model")
    parser.add_argument("--figures", type=Path, required=True, help="folder for the PNGs")
    parser.add_argument("--scans", default="", help="scan files (qkprobe scan --output), comma-separated, for head_roles")
    args = parser.parse_args(argv)

    notebooks = sorted(HERE.glob("*.ipynb"))
    problems = [problem for notebook in notebooks for problem in drift_problems(notebook)]
    problems += unpaired_scripts(notebooks)
    expected = expected_figures(readable_run(args.run))
    problems += [f"{notebook.name} has no figure list in run_notebooks.py (expected_figures)"
                 for notebook in notebooks if notebook.stem not in expected]
    problems += [f"{option} {path}: no such run file (make it with `qkprobe probe --output {path}`)"
                 for option, path in [("RUN", args.run), ("TEST_RUN", args.test_run)] if not path.is_file()]
    if problems:
        return fail(problems)
    print(f"notebooks: {len(notebooks)} notebooks match their .py twins and have no outputs")

    args.figures.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ, MPLBACKEND="Agg", QKPROBE_RUN=str(args.run.resolve()),
                       QKPROBE_TEST_RUN=str(args.test_run.resolve()),
                       QKPROBE_FIGURES=str(args.figures.resolve()))
    if args.scans:
        environment["QKPROBE_SCANS"] = ",".join(str(Path(p).resolve()) for p in args.scans.split(","))
    for notebook in notebooks:
        script = notebook.with_suffix(".py")
        figures = [args.figures / name for name in expected[notebook.stem]]
        for figure in figures:
            figure.unlink(missing_ok=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(script)], cwd=REPO_ROOT, env=environment,
                                capture_output=True, text=True)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip().splitlines()
            problems.append(f"{script.name} failed (exit status {result.returncode}):\n  "
                            + "\n  ".join(output[-20:]))
            continue
        figure_problems = [f"{script.name}: {figure} {problem}" for figure in figures
                           if (problem := "was not written" if not figure.is_file() else blank_problem(figure))]
        problems += figure_problems
        if not figure_problems:
            print(f"notebooks: {script.name} ran in {time.monotonic() - started:.1f} s and wrote "
                  f"{', '.join(figure.name for figure in figures)}")
    if problems:
        return fail(problems)
    print(f"notebooks: all figures written to {args.figures} and not blank")
    return 0


def fail(problems):
    for problem in problems:
        print(f"notebooks: {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
