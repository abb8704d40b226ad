# The README's two quick-start commands: `make demo` and `make test`. Both work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/ci-scan demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check ci_scan tests benchmarks

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

# Coverage of ci_scan/ by the in-process tests (the end-to-end subprocesses are not traced); the floor
# fails the run when it drops.
COVERAGE_FLOOR := 95

pytest: $(VENV)/.installed-test
	$(BIN)/pytest --cov=ci_scan --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)

test: lint typecheck pytest

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) ci-scan-demo .pytest_cache .mypy_cache .ruff_cache
