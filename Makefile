# Build and test infrastructure for the modgrow book.
# Targets: venv, test, book, browser-check, clean (see README "Build and test").
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Plain Python (unit tests, scripts) draws with Agg. Jupyter kernels must NOT
# inherit MPLBACKEND=Agg: ipykernel then skips its inline backend and
# plt.show() puts no figure in the notebook output. Kernel-running targets
# therefore set the inline backend explicitly.
export MPLBACKEND := Agg
# Book builds and nbval load stored results; a missing one is an error (make book NO_COMPUTE=0
# computes it instead, e.g. with MODGROW_PROFILE=quick).
NO_COMPUTE ?= 1
KERNEL_MPL := MPLBACKEND=module://matplotlib_inline.backend_inline
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: venv test book vendor check-offline browser-check stress clean

venv: $(STAMP)

# Reinstall only when the requirements or the package metadata change.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# Only created when the package author has not written one yet.
pyproject.toml:
	@echo "pyproject.toml missing: writing a minimal one"
	printf '%s\n' '[build-system]' 'requires = ["setuptools>=61"]' \
	  'build-backend = "setuptools.build_meta"' '' '[project]' \
	  'name = "modgrow"' 'version = "0.1.0"' 'requires-python = ">=3.10"' \
	  'dependencies = []' '' '[tool.setuptools]' 'packages = ["modgrow"]' > $@

# Unit tests, then the notebooks (nbval-lax: every cell must run; outputs are not compared).
# pytest exits 5 when nothing was collected; that is a failure here too.
# nbval's own cell timeout is 2000 s; with stored results a cell takes seconds, so a stuck
# kernel fails here after CELL_TIMEOUT instead of eating the CI budget.
# Both passes run on WORKERS processes (pytest-xdist; one torch thread each): a test file, or a
# notebook, stays on one worker; WORKERS=0 runs everything in this process.
CELL_TIMEOUT ?= 180
WORKERS ?= auto
test: venv
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup --no-loadscope-reorder tests
	$(KERNEL_MPL) MODGROW_NO_COMPUTE=$(NO_COMPUTE) $(BIN)/python -m pytest -n $(WORKERS) \
	  --dist loadfile --nbval-lax --nbval-cell-timeout=$(CELL_TIMEOUT) book

vendor:
	bash tools/vendor_js.sh

check-offline:
	$(BIN)/python tools/check_offline.py _build/html

# --all: rebuild every page. Sphinx only re-reads changed sources, so without it
# a change in modgrow/ or in the results store would leave stale chapters.
book: venv vendor
	$(KERNEL_MPL) MODGROW_NO_COMPUTE=$(NO_COMPUTE) $(BIN)/jupyter-book build . --all -W -n --keep-going
	$(BIN)/python tools/check_offline.py _build/html

# Execute every chapter STRESS_RUNS times in a row (fresh kernel each, 60 s per-cell timeout)
# and fail on any stall: a timeout, or a start-up, cell or shutdown slower than 30 s.
STRESS_RUNS ?= 20
stress: venv
	$(BIN)/python tools/stress_execute.py -n $(STRESS_RUNS) --json _build/stress.json

browser-check:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  echo "chromium not found: install it with 'sudo apt-get install -y chromium'"; exit 1; }
	test -d _build/html || { echo "no _build/html: run 'make book' first"; exit 1; }
	$(BIN)/python tools/browser_check.py _build/html

clean:
	rm -rf _build _vendor .pytest_cache .jupyter_cache
