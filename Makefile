# chatorch — `make run` serves, `make test` checks. Both bootstrap .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run test lint fmt migrate lock bench bench-quick check-python clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "chatorch needs Python 3.11 or newer")'

$(STAMP): requirements.lock pyproject.toml | check-python
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --editable .
	@rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP) ## serve on http://127.0.0.1:8000/ with the embedded defaults
	$(BIN)/chatorch serve

migrate: $(STAMP) ## migrate the database named by CHATORCH_DATABASE_URL
	$(BIN)/chatorch migrate

lint: $(STAMP) ## ruff, mypy and the import layers
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP) ## format and fix what ruff can
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

test: lint ## lint, then every test (real services when they run here)
	$(BIN)/pytest -q -n 2 $(PYTEST_ARGS)

bench: $(STAMP) ## the benchmarks, about 10 minutes; writes bench/results/<date>.json
	$(BIN)/python -m bench

bench-quick: $(STAMP) ## a smoke run of the benchmarks, about 2.5 minutes
	$(BIN)/python -m bench --quick

lock: $(STAMP) ## re-pin requirements.lock from requirements.in
	$(BIN)/python -m pip install --quiet --upgrade -r requirements.in
	{ echo '# Pinned from requirements.in by `make lock`: every package chatorch, its tests and lint use.'; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e'; } > requirements.lock

clean: ## remove the virtualenv and caches (keeps ./data)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
