#!/usr/bin/env bash
# Install Request Tracker 5 from Debian's packages for the RT connector's integration tests
# (tests/integration/test_rt_connector.py). The tests run RT's standalone server (rt5-standalone:
# plack + starlet) on a private loopback port with a throw-away SQLite database of their own, so
# nothing is configured here: dbconfig-no-thanks keeps the package from creating a database, and
# the debconf answers are preseeded so the install never prompts.
# Idempotent: does nothing when rt-server, rt-setup-database and the SQLite driver are installed.
set -euo pipefail

RT_SERVER=/usr/share/request-tracker5/libexec/rt-server
if [ -x "$RT_SERVER" ] && [ -x /usr/sbin/rt-setup-database-5 ] && [ -x /usr/bin/rt-mailgate-5 ] \
    && dpkg-query -W -f='${Status}' rt5-db-sqlite 2>/dev/null | grep -q "ok installed"; then
    echo "Request Tracker 5 already installed: $RT_SERVER"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "error: Request Tracker 5 is missing and this script needs root (or sudo) to install it" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=900 -q)
# The questions the packages would ask; the tests bring their own site config and database.
$SUDO debconf-set-selections <<'SEL'
request-tracker5 request-tracker5/rtname string localhost
request-tracker5 request-tracker5/organization string localhost
request-tracker5 request-tracker5/correspondaddress string rt@localhost
request-tracker5 request-tracker5/commentaddress string rt-comment@localhost
request-tracker5 request-tracker5/webbaseurl string http://localhost
request-tracker5 request-tracker5/install-cronjobs boolean false
request-tracker5 request-tracker5/handle-siteconfig-permissions boolean true
request-tracker5 request-tracker5/dbconfig-install boolean false
rt5-db-sqlite rt5-db-sqlite/dbconfig-install boolean false
SEL
start=$(date +%s)
$SUDO "${APT[@]}" update
$SUDO "${APT[@]}" install -y --no-install-recommends \
    dbconfig-no-thanks request-tracker5 rt5-standalone rt5-db-sqlite
# An MTA comes in as a dependency (RT mails by default); the tests never send mail through it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet exim4 2>/dev/null; then
    $SUDO systemctl disable --now exim4 || true
fi
echo "Request Tracker 5 installed in $(( $(date +%s) - start ))s: $RT_SERVER"
