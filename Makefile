# The two commands of the README: `make demo` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
PIP_COMPILE := $(VENV)/bin/pip-compile

.PHONY: install demo test test-fast lint format bench services system-deps lock

install:
	./scripts/bootstrap.sh

demo: install
	$(BIN)/ticketflow demo

# Starts the local Redis and PostgreSQL when installed but not running; installs nothing.
services:
	./scripts/services.sh

# System packages the integration tests need (Dovecot): .ci/run calls this as root. `make test`
# never runs apt or sudo itself.
system-deps:
	./scripts/install-dovecot.sh

test: install services
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not integration and not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared producer worker review knowledge training ticketflow

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m pip install -q --no-deps -e ".[bench]" -c requirements/lock.txt
	$(BIN)/python -m pip install -q -c requirements/lock.txt scikit-learn
	$(BIN)/python bench/batching_throughput.py
	$(BIN)/python bench/banking77_accuracy.py ../shared/data/banking77/train.csv
	$(BIN)/python bench/backfill_load.py ../shared/data/banking77/train.csv

# Re-resolve every pin from pyproject.toml under requirements/pins.txt. The lock keeps torch as
# `==X.Y.Z` (no `+cpu`), so GPU nodes take the CUDA build of the same release.
lock: install
	$(BIN)/python -m pip install -q pip-tools
	$(PIP_COMPILE) -q --strip-extras --extra dev -c requirements/pins.txt \
		--no-emit-find-links --no-emit-index-url -o requirements/lock.txt pyproject.toml
	sed -i 's/^torch==\(.*\)+cpu$$/torch==\1/' requirements/lock.txt
