# Real-time engineering course: the one entry point for learners, instructors and CI.
#
#   make lab     start JupyterLab on the first notebook (creates .venv on first run)
#   make test    everything CI runs: lint, types, unit tests, every notebook
#
# A fresh machine needs only python3 (3.11 or newer) and GNU make. Everything is
# installed into $(VENV) from the pinned lock requirements.txt; nothing global is
# touched (no kernel registration, no --user installs).

PYTHON ?= python3
VENV ?= .venv
# JupyterLab: bound to loopback unless you say otherwise (HOST=0.0.0.0 to share).
HOST ?= 127.0.0.1
PORT ?= 8888
# Extra arguments for the command behind a target, e.g.
#   make lab ARGS=--no-browser      make check ARGS=reconnection
ARGS ?=
# Extra arguments for pytest in `make test`, e.g. PYTEST_ARGS="-x -k reconnection".
PYTEST_ARGS ?=
# pytest workers (pytest-xdist). Much of the suite waits on sockets and kernels, so 3
# workers suit a 2-core machine (17 min in one process, 7 in three); WORKERS=0: one process.
WORKERS ?= 3

PY := $(VENV)/bin/python
# Jupyter refuses to run as root without --allow-root (containers, CI machines).
ROOT_FLAG := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
STAMP := $(VENV)/.installed
NOTEBOOK := notebooks/00-start-here.ipynb

# Kernels, nbextensions and settings: prefer the ones inside $(VENV) over any
# that the user registered globally (~/.local/share/jupyter), so `make lab` and
# the notebook tests run the kernel of this environment.
export JUPYTER_PREFER_ENV_PATH := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

SHELL := /bin/sh
MAKEFLAGS += --no-print-directory
.DEFAULT_GOAL := help

.PHONY: help setup lab lab-command test pytest lint bench fuzz check doctor lesson system-deps js-deps clean

help:
	@echo "Real-time engineering course. Targets:"
	@echo "  make lab          start JupyterLab on $(NOTEBOOK) (http://$(HOST):$(PORT))"
	@echo "  make test         lint, types, unit tests and every notebook (what CI runs), timed"
	@echo "  make check        grade your exercises (ARGS=reconnection for one)"
	@echo "  make doctor       check this machine can run the course"
	@echo "  make bench        run the benchmarks"
	@echo "  make fuzz         fuzz every parser and live server, 10x the cases of make test"
	@echo "  make lint         ruff and mypy only"
	@echo "  make lesson NAME=04-reconnection  rebuild a notebook from its source and run it"
	@echo "  make setup        create $(VENV) and install the pinned packages"
	@echo "  make system-deps  install the system packages in system-packages.txt (Chromium, Node.js)"
	@echo "  make js-deps      install the pinned npm packages in js/ (Yjs client and server)"
	@echo "  make clean        delete $(VENV) and caches (keeps your progress in .rtlab/)"

# The environment. Rebuilt when the lock or the package metadata changes; a
# failed install leaves no stamp, so the next make retries.
$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "make: '$(PYTHON)' not found. Install Python 3.11 or newer, or run: make PYTHON=/path/to/python3.11"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "make: this course needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) -c 'import platform; print(platform.python_version())')."; \
	  echo "      Install a newer Python and run: make PYTHON=python3.11 (or python3.12, python3.13)"; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "make: '$(PYTHON)' cannot create virtual environments (ensurepip is missing)."; \
	  echo "      On Debian/Ubuntu: sudo apt-get install python3-venv"; exit 1; }
	@echo "==> Installing the pinned packages into $(VENV) (the first time: 1-2 minutes)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# pip's and the build backend's chatter goes to install.log, shown only on failure.
	@{ $(PY) -m pip install --quiet --upgrade pip && \
	   $(PY) -m pip install --quiet --require-virtualenv -r requirements.txt && \
	   $(PY) -m pip install --quiet --require-virtualenv --no-deps -e . ; \
	 } >$(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; \
	   echo "make: installing into $(VENV) failed (log above, also in $(VENV)/install.log)"; exit 1; }
	@$(PY) -m pip check >/dev/null || { $(PY) -m pip check; \
	  echo "make: the installed packages conflict (see above); try: make clean setup"; exit 1; }
	@touch $@
	@echo "==> $(VENV) is ready ($$($(PY) -c 'import platform; print("Python", platform.python_version())'))"

setup: $(STAMP)

# JupyterLab serves the repository root (so lessons' links to ../exercises and
# ../references open, as on Binder) and opens $(NOTEBOOK) first. The course's
# settings (no news prompt) go where JupyterLab reads overrides: the venv's
# share/jupyter/lab/settings (postBuild does the same on Binder).
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
# The live demos hold hundreds of sockets, and macOS starts processes with a soft
# limit of 256 open files: raise the soft limit (never the hard one) to 4096, or as
# far as the hard limit allows, for what make starts (JupyterLab and its kernels).
RAISE_OPEN_FILES = n=$$(ulimit -n); if [ "$$n" != unlimited ] && [ "$$n" -lt 4096 ]; then \
  ulimit -Sn 4096 2>/dev/null || ulimit -Sn "$$(ulimit -Hn)" 2>/dev/null || true; fi;
LAB_ARGS = --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/$(NOTEBOOK) \
  --ServerApp.ip=$(HOST) --ServerApp.port=$(PORT) $(ROOT_FLAG)

$(LAB_SETTINGS): jupyter/lab/settings/overrides.json $(STAMP)
	@mkdir -p $(@D)
	@cp $< $@

lab: setup js-deps $(LAB_SETTINGS)
	@echo "==> Starting JupyterLab at http://$(HOST):$(PORT) (Ctrl-C twice to stop)"
	@$(RAISE_OPEN_FILES) $(PY) -m jupyter lab $(LAB_ARGS) $(ARGS)

# The command line `make lab` runs, for tests that start JupyterLab the same way.
lab-command:
	@echo $(PY) -m jupyter lab $(LAB_ARGS)

# System packages (Chromium, Node.js, ...) listed in system-packages.txt.
system-deps:
	@bash scripts/system-deps.sh system-packages.txt

# The JavaScript side of the collaboration module (yjs, y-websocket, ws), pinned by
# js/package-lock.json; `npm ci` runs only when js/node_modules is missing or stale.
js-deps: system-deps
	@bash scripts/npm-deps.sh

lint: setup
	@echo "==> ruff check"
	@$(PY) -m ruff check .
	@echo "==> mypy (strict, settings in pyproject.toml)"
	@$(PY) -m mypy

# Each part runs as its own make, timed; the times are printed at the end (and
# up to the failing part, if one fails).
TEST_PARTS := setup system-deps js-deps lint pytest
test:
	@times=""; for part in $(TEST_PARTS); do \
	  start=$$(date +%s); \
	  if $(MAKE) $$part; then status=ok; else status=FAILED; fi; \
	  times="$$times  $$part: $$(( $$(date +%s) - start )) s ($$status)\n"; \
	  if [ $$status = FAILED ]; then printf "==> Time per part:\n$$times"; exit 1; fi; \
	done; printf "==> Time per part:\n$$times"
	@echo "==> All checks passed"

# One pytest run: the unit tests in tests/ (the JupyterLab browser test included) and,
# with --nbval, every notebook in notebooks/ (strict: stored outputs must match, after
# tests/nbval_sanitize.cfg), each run by a kernel of this venv (--nbval-current-env),
# whatever the notebook names. Notebooks under tests/ are fixtures, not tests:
# --ignore-glob keeps nbval off them. --dist loadfile keeps a notebook's cells (and a
# test file's tests) in one worker, in order.
pytest: setup $(LAB_SETTINGS)
	@echo "==> pytest: unit tests and notebooks"
	@$(RAISE_OPEN_FILES) $(FIND_TRACES) $(PY) -m pytest tests notebooks --nbval \
	  --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=120 \
	  --ignore-glob='tests/*.ipynb' -p no:cacheprovider \
	  $(if $(filter-out 0,$(WORKERS)),-n $(WORKERS) --dist loadfile) --durations=10 $(PYTEST_ARGS)

# The editing traces are not in the repository: point RTLAB_TRACES at the first folder
# that has them ($$RTLAB_TRACES, ../shared/data/editing-traces, the cache), or say how
# to get them (python -m rtlab traces --fetch).
FIND_TRACES = traces="$$($(PY) -m rtlab traces --dir)"; \
  if [ -n "$$traces" ]; then export RTLAB_TRACES="$$traces"; else $(PY) -m rtlab traces; fi;

bench: setup js-deps
	@echo "==> Benchmarks (python -m rtlab.bench)"
	@$(FIND_TRACES) $(PY) -m rtlab.bench $(ARGS)

# The fuzz tests of `make test` (a fixed, derandomized set of cases) with the long
# profile: 10x the cases (FUZZ_SCALE=40 for more), new random ones each run
# (tests/fuzzing.py). A failure prints a @reproduce_failure line to replay it.
fuzz: setup
	@echo "==> Fuzzing parsers and live servers (HYPOTHESIS_PROFILE=long)"
	@$(RAISE_OPEN_FILES) HYPOTHESIS_PROFILE=long $(PY) -m pytest tests/test_fuzz_parsers.py \
	  tests/test_fuzz_servers.py -p no:cacheprovider -rA $(PYTEST_ARGS)

# A lesson's source is notebooks/NAME.py (jupytext py:percent); this writes and runs
# notebooks/NAME.ipynb with fresh outputs. NAME=all rebuilds every lesson.
lesson: setup js-deps
	@test -n "$(NAME)" || { echo "make lesson NAME=04-reconnection (or NAME=all)"; exit 1; }
	@$(PY) -m rtlab.lessons $(if $(filter all,$(NAME)),--all,$(NAME)) --execute

check: setup
	@$(PY) -m rtlab check $(ARGS)

doctor: setup
	@$(PY) -m rtlab doctor $(ARGS)

clean:
	@echo "==> Removing $(VENV) and caches (your progress in .rtlab/ stays)"
	@rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
	@find . -name __pycache__ -type d -prune -exec rm -rf {} +
