#!/usr/bin/env bash
# Install Prometheus and promtool (Debian's `prometheus` package) for the metrics tests
# (tests/integration/test_prometheus_scrape.py, tests/ticketflow/test_deployment.py). Idempotent: does nothing
# when both binaries are already on PATH. The tests start their own Prometheus on a free
# loopback port with a generated config; the system service is not needed and is stopped.
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    echo "prometheus already installed: $(command -v prometheus)"
    exit 0
fi
# No recommends: the node exporter and the web console libraries are not needed.
apt_install prometheus prometheus
stop_system_service prometheus
echo "prometheus installed: $(command -v prometheus) ($(prometheus --version 2>&1 | head -1))"
