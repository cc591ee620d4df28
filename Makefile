# The two commands a newcomer needs are `make demo` and `make test`; both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed

.PHONY: demo test test-quick bench lint clean mlflow-compat

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Perennia needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP)-demo: $(BIN)/python pyproject.toml
	$(PIP) install --quiet -e ".[demo]"
	touch $@

$(STAMP)-dev: $(BIN)/python pyproject.toml
	$(PIP) install --quiet -e ".[dev]"
	touch $@

# The report tests drive Debian's Chromium through Playwright (no browser download): install
# the package when it is missing and this user may (root, or sudo without a password).
$(STAMP)-browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  elif sudo -n true 2>/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: /usr/bin/chromium is missing; browser tests will skip (install Debian's chromium)"; fi; \
	fi
	@mkdir -p $(VENV) && touch $@

$(STAMP)-bench: $(BIN)/python pyproject.toml
	$(PIP) install --quiet -e ".[bench]"
	touch $@

demo: $(STAMP)-demo
	$(BIN)/perennia demo

test: $(STAMP)-dev $(STAMP)-browser
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

# The suite without the multi-process and fault tests marked `slow` (CI runs them: `make test`).
test-quick: $(STAMP)-dev $(STAMP)-browser
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q -m "not slow"

# DVC, the anchor of the dataset benchmark, lives in a venv of its own: its pins (antlr4 4.9
# through hydra) would downgrade a package the test tools in .venv need.
DVC_VENV := .venv-dvc
$(DVC_VENV)/bin/dvc:
	$(PYTHON) -m venv $(DVC_VENV)
	$(DVC_VENV)/bin/python -m pip install --quiet "dvc>=3.0"

# Evidently, the drift benchmark's anchor, needs pandas < 3: it gets a venv of its own too.
EVIDENTLY_VENV := .venv-evidently
$(EVIDENTLY_VENV)/bin/evidently-ready:
	$(PYTHON) -m venv $(EVIDENTLY_VENV)
	$(EVIDENTLY_VENV)/bin/python -m pip install --quiet "evidently>=0.7,<0.8" "pandas<3"
	touch $@

bench: $(STAMP)-bench $(DVC_VENV)/bin/dvc $(EVIDENTLY_VENV)/bin/evidently-ready
	DVC=$(abspath $(DVC_VENV))/bin/dvc EVIDENTLY_PYTHON=$(abspath $(EVIDENTLY_VENV))/bin/python \
	  $(BIN)/python benchmarks/run_all.py

# MLflow's own REST tests against `perennia server` (the harness lives outside the repository).
MLFLOW_SUITE ?= ../shared/mlflow-suite
mlflow-compat: $(STAMP)-dev
	bash $(MLFLOW_SUITE)/run.sh $(abspath $(BIN))/python

lint: $(STAMP)-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) $(DVC_VENV) $(EVIDENTLY_VENV) .perennia .pytest_cache
