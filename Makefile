# Set-up and checks. `make demo` and `make test` create .venv and install the project
# with torch pinned to the CPU build (an unpinned torch pulls several GB of CUDA wheels).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINTED := $(wildcard core apps tests benchmarks)

.PHONY: demo test lint format bench-core clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt torch
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m scorelab.demo --out runs/demo

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

format: $(STAMP)
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)

test: lint
	$(BIN)/python -c "import scorelab"
	$(BIN)/pytest -n 2 -q

clean:
	rm -rf $(VENV) .venv-bench .pytest_cache .ruff_cache
