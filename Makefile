# One verb per target. Every target installs what it needs first (a virtualenv in .venv).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
RUN_STAMP := $(VENV)/.run-stamp
# The TypeScript generators the typed-client tests use (tests/contract/test_typescript_clients.py).
CLIENTS := tests/clients
CLIENTS_STAMP := $(CLIENTS)/node_modules/.installed-stamp
PYTEST_ARGS ?=
AUDIT := tests/graphql_http
AUDIT_STAMP := $(AUDIT)/node_modules/.installed-stamp
# make test's parallel workers: one per core of a 2-core machine (each runs its own PostgreSQL and
# Redis, and a module's servers stay on its worker); `auto` takes one per core, 0 runs serially.
TEST_WORKERS ?= 2

.PHONY: install run stop key cluster test fuzz fault lint check schema migrate seed bench docs docs-serve clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	# ariadne-codegen cannot share .venv with strawberry (graphql-core pins): its own venv (pyproject).
	test -x $(VENV)/codegen/bin/python || $(PY) -m venv $(VENV)/codegen
	$(VENV)/codegen/bin/python -m pip install -q "$$($(BIN)/python -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["optional-dependencies"]["graphql-codegen"][0])')"
	touch $(STAMP)

# What running needs, without the development extras (pytest, mypy, playwright, …); the full
# install above satisfies it too.
$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	test -f $(STAMP) -a $(STAMP) -nt pyproject.toml || $(BIN)/python -m pip install -q -e .
	touch $(RUN_STAMP)

install: $(STAMP)

## run: the service on the embedded stack (or DATABASE_URL/REDIS_URL), migrated and seeded, with
## webhook delivery alongside (development); Ctrl-C stops it and the embedded servers
run: $(RUN_STAMP)
	$(BIN)/newsfacts serve --seed

## stop: end a server and embedded PostgreSQL/Redis left running under .data (e.g. after a kill -9)
stop: $(RUN_STAMP)
	$(BIN)/newsfacts stop

## key: a write API key for the running (or embedded) database; prints its secret once
key: $(RUN_STAMP)
	@$(BIN)/newsfacts keys create --scope write --name "make key"

## cluster: primary + streaming replica (pg_basebackup), Redis, two API processes and a worker, as
## local processes from the embedded binaries; prints the URLs, Ctrl-C stops them (data in .data/cluster)
cluster: install
	$(BIN)/python -m api.cluster

## test: the whole suite against real PostgreSQL and Redis (embedded unless TEST_DATABASE_URL/TEST_REDIS_URL),
## in TEST_WORKERS processes (2; 0 runs it serially in this one), each taking whole modules, slowest first
test: install $(AUDIT_STAMP) $(CLIENTS_STAMP)
	# The explorer's browser tests drive Debian's chromium (never a downloaded one: no `playwright install`).
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# Pinned by tests/clients/package-lock.json; node_modules is gitignored, so a fresh clone installs here.
$(CLIENTS_STAMP): $(CLIENTS)/package-lock.json
	command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	cd $(CLIENTS) && npm ci --no-audit --no-fund --loglevel=error
	touch $(CLIENTS_STAMP)

# The graphql-http audit suite the GraphQL-over-HTTP test runs (pinned by its package-lock.json;
# node_modules is gitignored, so a fresh clone installs it here).
$(AUDIT_STAMP): $(AUDIT)/package-lock.json
	command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	cd $(AUDIT) && npm ci --no-audit --no-fund --loglevel=error
	touch $(AUDIT_STAMP)

## fuzz: the property-based and schemathesis suites with many examples and fresh randomness
fuzz: install
	NEWSFACTS_FUZZ_EXAMPLES=300 NEWSFACTS_FUZZ_RANDOM=1 $(BIN)/pytest tests/api/test_fuzz.py tests/contract/test_schemathesis.py $(PYTEST_ARGS)

## fault: the fault suite with 10-second outages (make test runs it with 1-second ones), printing its table
fault: install
	FAULT_SECONDS=10 $(BIN)/pytest tests/fault -s $(PYTEST_ARGS)

## lint: formatting, lint rules and strict typing
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

## check: lint plus the contract drift tests (SDL and OpenAPI) and the generated reference pages
check: lint $(CLIENTS_STAMP)
	$(BIN)/pytest tests/contract tests/docs/test_reference.py -q

## docs: the documentation site into site/ (its reference pages regenerated from the contracts
## first); docs-serve: the same on http://127.0.0.1:8100, rebuilt as pages change. Material's
## end-of-life banner is silenced: the build itself must print no warning (tests/docs/test_site.py).
docs: install
	$(BIN)/python -m docs.generate
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: install
	$(BIN)/python -m docs.generate
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8100

## schema: regenerate schema/schema.graphql from the strawberry types
schema: install
	$(BIN)/python -m schema.export > schema/schema.graphql

migrate: install
	$(BIN)/newsfacts migrate

seed: install
	$(BIN)/newsfacts seed

## bench: every benchmark under bench/, writing bench/results/latest.md (PostGraphile, the GraphQL
## peer, is installed by npm into the gitignored bench/.peer/)
bench: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	$(BIN)/python -m bench.peer
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache site
