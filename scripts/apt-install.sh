#!/usr/bin/env bash
# Sourced by the scripts/install-*.sh scripts: `apt_install NAME [--with-recommends] PKG...`
# installs Debian packages (without their recommends unless asked) as root or through sudo,
# without questions, and `stop_system_service NAME` stops the service a
# package starts on install (the tests start their own instances on private ports).
# Waits for the dpkg lock rather than failing when another apt run holds it.

apt_install() {
    local what=$1 recommends=--no-install-recommends
    shift
    if [ "${1:-}" = "--with-recommends" ]; then
        recommends=""
        shift
    fi
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            SUDO="sudo"
        else
            echo "error: $what is missing and this script needs root (or sudo) to install it" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get -o DPkg::Lock::Timeout=900 update -q
    $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -q $recommends "$@"
}

stop_system_service() {
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$1" 2>/dev/null; then
        ${SUDO:-} systemctl disable --now "$1" || true
    elif [ -x "/etc/init.d/$1" ]; then
        ${SUDO:-} "/etc/init.d/$1" stop >/dev/null 2>&1 || true
    fi
}
