#!/usr/bin/env bash
# Install Dovecot's IMAP server for the email-ingestion tests (tests/integration/test_imap_dovecot.py).
# Idempotent: does nothing when a `dovecot` binary is already on PATH (or in /usr/sbin).
set -euo pipefail

if command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; then
    echo "dovecot already installed: $(command -v dovecot || echo /usr/sbin/dovecot)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "error: dovecot is missing and this script needs root (or sudo) to install it" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends dovecot-imapd openssl
# Debian starts the system service on install where an init system runs; the tests start their
# own instance on a private port, so the system one is not needed.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet dovecot 2>/dev/null; then
    $SUDO systemctl disable --now dovecot || true
fi
echo "dovecot installed: $(command -v dovecot || echo /usr/sbin/dovecot)"
