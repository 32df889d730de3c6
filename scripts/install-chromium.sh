#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/browser/): Playwright drives it through
# `executable_path` (TICKETFLOW_TEST_CHROMIUM, default /usr/bin/chromium), because Playwright's
# own browser download cannot reach its servers from CI. Idempotent: does nothing when the
# binary is already there.
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"
if [ -x "$BIN" ]; then
    echo "chromium already installed: $BIN ($("$BIN" --version 2>/dev/null || echo unknown))"
    exit 0
fi

# Recommends bring the fonts a page needs to render readable screenshots (fonts-liberation).
apt_install chromium --with-recommends chromium fonts-liberation
echo "chromium installed: $BIN ($("$BIN" --version 2>/dev/null || echo unknown))"
