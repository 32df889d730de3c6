# The two commands of the README: `make demo` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-fast lint bench services

install:
	./scripts/bootstrap.sh

demo: install
	$(BIN)/ticketflow demo

services:
	./scripts/services.sh
	./scripts/install-dovecot.sh

test: install services
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not integration and not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared producer worker review knowledge training ticketflow

bench: install
	$(BIN)/python bench/batching_throughput.py
	$(BIN)/python bench/banking77_accuracy.py ../shared/data/banking77/train.csv
	$(BIN)/python bench/backfill_load.py ../shared/data/banking77/train.csv
