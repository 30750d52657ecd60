# Puhui — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DB     ?= sqlite:///var/puhui.db
HOST   ?= 127.0.0.1
PORT   ?= 8000
STAMP  := $(VENV)/.installed

.PHONY: install sysdeps run serve demo test lint typecheck unit bench clean model reliability soak

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Debian packages the platform needs beside its Python ones: pango and harfbuzz for WeasyPrint and
# the Noto CJK fonts, so that contract PDFs show Chinese; chromium for the browser tests (Playwright
# drives it; it never downloads a browser of its own). Append with `SYSTEM_PACKAGES += ...`.
SYSTEM_PACKAGES := fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 chromium

## make sysdeps: apt-get install whichever SYSTEM_PACKAGES are missing (does nothing when none is);
## sudo only when not root; a warning, not a failure, where there is no apt-get
sysdeps:
	@if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then \
	  echo "sysdeps: warning: no apt-get here; contract PDFs need: $(SYSTEM_PACKAGES)" >&2; exit 0; fi; \
	missing=""; \
	for p in $(SYSTEM_PACKAGES); do \
	  dpkg -s "$$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else \
	  echo "sysdeps: warning: not root and no sudo; install by hand:$$missing" >&2; exit 0; fi; \
	echo "sysdeps: installing$$missing"; \
	APT="$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get"; \
	$$APT install -y -qq $$missing >/dev/null 2>&1 || { $$APT update -qq && $$APT install -y -qq $$missing >/dev/null; }

install: sysdeps $(STAMP)

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

## make reliability: the long runs behind RELIABILITY.md: Schemathesis with 100 examples per operation
## and 300 stateful scenarios of up to 20 linked calls (SQLite and PostgreSQL), the access matrix, the
## personal-data canaries, and the ledger state machine at 200 examples x 50 steps, 100 rounds of 50
## concurrent duplicates on PostgreSQL, 100 SIGKILLs during 1,000 payouts; Schemathesis status tallies
## (and the links the stateful run followed) in var/reliability
reliability: install
	PUHUI_SCHEMATHESIS_EXAMPLES=100 PUHUI_SCHEMATHESIS_SCENARIOS=300 PUHUI_SCHEMATHESIS_STEPS=20 \
	PUHUI_SCHEMATHESIS_REPORT=var/reliability \
	PUHUI_LEDGER_SM_EXAMPLES=200 PUHUI_LEDGER_SM_STEPS=50 PUHUI_CONCURRENCY_ROUNDS=100 \
	PUHUI_CRASH_LOANS=1000 PUHUI_CRASH_KILLS=100 \
	    $(BIN)/python -m pytest tests/reliability tests/integration/test_ledger_state_machine.py \
	    tests/e2e/test_concurrent_money_http.py tests/e2e/test_crash_recovery.py -n 2 --dist loadgroup -q

## make soak: ten minutes of the realistic mix (quotes, decisions, applications, repayments, loan and
## portal pages) with locust against the server on PostgreSQL: req/s, p50, p99, zero errors, memory
## growth under 10 %, the ledger balanced afterwards (make test runs a 15-second version)
soak: install
	$(BIN)/python bench/soak.py --seconds 600

unit: install
	$(BIN)/python -m pytest tests/unit -q

## make bench: measure the figures recorded in BENCHMARKS.md
bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis

## make model: rebuild the demo credit model from the simulator (seed 7, 5,000 borrowers)
model: install
	$(BIN)/puhui simulate --borrowers 5000 --out var/sim --seed 7
	$(BIN)/puhui model train --data var/sim/training.csv --target default_12m --out src/puhui/risk/models/demo \
	    --labels var/sim/feature_labels.json --seed 7 \
	    --exclude borrower_id,bureau_inquiries_6m,bureau_open_loans,bureau_max_dpd_24m,has_mortgage
