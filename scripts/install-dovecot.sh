#!/usr/bin/env bash
# Install Dovecot's IMAP server for the email-ingestion tests (tests/integration/test_imap_dovecot.py).
# Idempotent: does nothing when a `dovecot` binary is already on PATH (or in /usr/sbin).
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

if command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; then
    echo "dovecot already installed: $(command -v dovecot || echo /usr/sbin/dovecot)"
    exit 0
fi
apt_install dovecot dovecot-imapd openssl
stop_system_service dovecot
echo "dovecot installed: $(command -v dovecot || echo /usr/sbin/dovecot)"
