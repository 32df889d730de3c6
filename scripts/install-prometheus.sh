#!/usr/bin/env bash
# Install Prometheus and promtool (Debian's `prometheus` package) for the metrics tests
# (tests/ops/test_prometheus_scrape.py, tests/ops/test_alert_rules.py). Idempotent: does nothing
# when both binaries are already on PATH. The tests start their own Prometheus on a free
# loopback port with a generated config; the system service is not needed and is stopped.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    echo "prometheus already installed: $(command -v prometheus)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "error: prometheus is missing and this script needs root (or sudo) to install it" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# No recommends: the node exporter and the web console libraries are not needed.
$SUDO apt-get install -y -q --no-install-recommends prometheus
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    $SUDO systemctl disable --now prometheus || true
elif [ -x /etc/init.d/prometheus ]; then
    $SUDO /etc/init.d/prometheus stop >/dev/null 2>&1 || true
fi
echo "prometheus installed: $(command -v prometheus) ($(prometheus --version 2>&1 | head -1))"
