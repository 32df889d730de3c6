#!/usr/bin/env bash
# Install Request Tracker 5 from Debian's packages for the RT connector's integration tests
# (tests/integration/rt/). The tests run RT's standalone server (rt5-standalone:
# plack + starlet) on a private loopback port with a throw-away SQLite database of their own, so
# nothing is configured here: dbconfig-no-thanks keeps the package from creating a database, and
# the debconf answers are preseeded so the install never prompts.
# Idempotent: does nothing when rt-server, rt-setup-database and the SQLite driver are installed.
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

RT_SERVER=/usr/share/request-tracker5/libexec/rt-server
if [ -x "$RT_SERVER" ] && [ -x /usr/sbin/rt-setup-database-5 ] && [ -x /usr/bin/rt-mailgate-5 ] \
    && dpkg-query -W -f='${Status}' rt5-db-sqlite 2>/dev/null | grep -q "ok installed"; then
    echo "Request Tracker 5 already installed: $RT_SERVER"
    exit 0
fi

# The questions the packages would ask; the tests bring their own site config and database.
[ "$(id -u)" -eq 0 ] && SUDO="" || SUDO=sudo
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
apt_install "Request Tracker 5" dbconfig-no-thanks request-tracker5 rt5-standalone rt5-db-sqlite
# An MTA comes in as a dependency (RT mails by default); the tests never send mail through it.
stop_system_service exim4
echo "Request Tracker 5 installed in $(( $(date +%s) - start ))s: $RT_SERVER"
