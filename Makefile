# The two commands a newcomer needs are `make demo` and `make test`; both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

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

$(STAMP)-bench: $(BIN)/python pyproject.toml
	$(PIP) install --quiet -e ".[bench]"
	touch $@

demo: $(STAMP)-demo
	$(BIN)/perennia demo

test: $(STAMP)-dev
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

bench: $(STAMP)-bench
	$(BIN)/python benchmarks/run_all.py

lint: $(STAMP)-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) .perennia .pytest_cache
