# Set-up and checks. `make demo` and `make test` create .venv and install the project
# with torch pinned to the CPU build (an unpinned torch pulls several GB of CUDA wheels).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINTED := $(wildcard core apps tests benchmarks)

.PHONY: demo test lint format bench-core clean
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
PEERS := benchmarks/requirements-peers.txt benchmarks/requirements-peers-nodeps.txt

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt torch
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/scorelab demo --out runs/demo

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

format: $(STAMP)
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)

test: lint
	$(BIN)/python -c "import scorelab"
	$(BIN)/pytest -n 2 -q

# The sampler benchmark drives the peers users pick instead (diffusers, k-diffusion): they
# live in their own venv, never among the project's dependencies.
$(BENCH_STAMP): pyproject.toml constraints.txt $(PEERS)
	$(PY) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q --upgrade pip
	$(BENCH_VENV)/bin/pip install -q -c constraints.txt torch
	$(BENCH_VENV)/bin/pip install -q -c constraints.txt -e ".[ot,plot]"
	$(BENCH_VENV)/bin/pip install -q -c constraints.txt -r benchmarks/requirements-peers.txt
	$(BENCH_VENV)/bin/pip install -q --no-deps -r benchmarks/requirements-peers-nodeps.txt
	touch $(BENCH_STAMP)

bench-core: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m benchmarks.core.samplers --out benchmarks/core/results
	$(BENCH_VENV)/bin/python -m benchmarks.core.training --out benchmarks/core/results
	$(BENCH_VENV)/bin/python -m benchmarks.core.methods --out benchmarks/core/results

clean:
	rm -rf $(VENV) .venv-bench .pytest_cache .ruff_cache
