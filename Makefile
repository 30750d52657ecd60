# Puhui — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DB     ?= sqlite:///var/puhui.db
HOST   ?= 127.0.0.1
PORT   ?= 8000
STAMP  := $(VENV)/.installed

.PHONY: install run serve demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

BANK_PORT ?= 8100

## make run: create .venv, install, migrate + seed the demo lender (SQLite), start the bank simulator
## on 127.0.0.1:8100 and serve on 127.0.0.1:8000 (Ctrl-C stops both)
run: install
	PUHUI_ENV=demo $(BIN)/puhui demo --db $(DB)
	$(BIN)/puhui bank-sim --port $(BANK_PORT) --db sqlite:///var/bank-sim.db \
	    --callback-url http://$(HOST):$(PORT)/v1/callbacks/bank & SIM=$$!; \
	trap "kill $$SIM 2>/dev/null" EXIT INT TERM; \
	PUHUI_ENV=demo PUHUI_BANK_URL=http://127.0.0.1:$(BANK_PORT) $(BIN)/puhui serve --db $(DB) --host $(HOST) --port $(PORT)

demo: install
	PUHUI_ENV=demo $(BIN)/puhui demo --db $(DB)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

## make test: lint, types, then the whole suite (SQLite always; PostgreSQL when reachable; required under CI=true)
test: lint typecheck
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

unit: install
	$(BIN)/python -m pytest tests/unit -q

## make bench: measure the figures recorded in BENCHMARKS.md
bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
