#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/browser/): Playwright drives it through
# `executable_path` (TICKETFLOW_TEST_CHROMIUM, default /usr/bin/chromium), because Playwright's
# own browser download cannot reach its servers from CI. Idempotent: does nothing when the
# binary is already there. Another job may hold apt's lock: wait for it instead of failing.
set -euo pipefail

BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"
if [ -x "$BIN" ]; then
    echo "chromium already installed: $BIN ($("$BIN" --version 2>/dev/null || echo unknown))"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "error: chromium is missing and this script needs root (or sudo) to install it" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=900 -q)
$SUDO "${APT[@]}" update
# Recommends bring the fonts a page needs to render readable screenshots (fonts-liberation).
$SUDO "${APT[@]}" install -y chromium fonts-liberation
echo "chromium installed: $BIN ($("$BIN" --version 2>/dev/null || echo unknown))"
