#!/usr/bin/env bash
# The GPU check of issue 19, run once on the device machine (one H200, torch + transformers
# preinstalled, no network, no pydantic/SQLModel: nothing else is needed). Under 6 minutes:
# gpu_check.py stops starting new runs after --budget-s. Writes $OUT/gpu_check.json and a log.
#
#   bash bench/gpu_check.sh            # from the repository root; OUT defaults to ./gpu-out
set -uo pipefail
OUT="${OUT:-gpu-out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="$(command -v python3)"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PY" -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'
  timeout 330 "$PY" bench/gpu_check.py --out "$OUT" --budget-s 240
  echo "gpu_check exit: $?"
} 2>&1 | tee "$OUT/gpu_check.log"
