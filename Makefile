# Tasks outside SwiftPM. Paths are relative to the repository root.
PYTHON ?= python3
RUN ?= out/calibration.h5
TEST_RUN ?= out/test.h5
FIGURES ?= out/figures
SCANS ?= out/scan-previous-token.h5,out/scan-induction.h5

.PHONY: notebooks

# Tests the notebooks' run file reader, then runs the plotting notebooks headless (their jupytext
# twins notebooks-export/*.py, matplotlib's Agg backend) on a calibration and a test run of one
# model, checks that every figure is written and not blank, and that no .ipynb has drifted from
# its .py.
notebooks:
	$(PYTHON) -m unittest discover --start-directory notebooks-export --pattern 'test_*.py'
	$(PYTHON) notebooks-export/run_notebooks.py --run '$(RUN)' --test-run '$(TEST_RUN)' --figures '$(FIGURES)' --scans '$(SCANS)'
