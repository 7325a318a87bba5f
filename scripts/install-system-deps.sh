#!/usr/bin/env bash
# Install the Debian packages salon's development/test tooling needs.
#
# Idempotent: packages already installed are reported as "ok <pkg>" and
# `apt-get update` only runs when something is missing.
#
# Usage: scripts/install-system-deps.sh        (as root, or with sudo available)
set -euo pipefail

# One list; append packages here (e.g. janus, chromium).
PACKAGES=(
    postgresql
)

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    fi
fi

is_installed() {
    local status
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]]
}

systemd_running() {
    # The canonical check (sd_booted): systemd is PID 1 iff this directory exists.
    [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1
}

# Stop and disable the system-wide cluster service that Debian's package creates
# (and may start). salon's tests run their own throwaway clusters and must never
# depend on, or collide with, the system one.
neutralise_postgresql_service() {
    # 1. Stop it if it is running.
    if systemd_running; then
        if systemctl is-active --quiet postgresql 2>/dev/null; then
            echo "stopping postgresql service (systemd)"
            "${SUDO[@]}" systemctl stop postgresql
        fi
    elif [[ -x /etc/init.d/postgresql ]] && command -v service >/dev/null 2>&1; then
        # No systemd (e.g. a container): the SysV init script.
        if service postgresql status >/dev/null 2>&1; then
            echo "stopping postgresql service (sysv)"
            "${SUDO[@]}" service postgresql stop
        fi
    fi
    # 2. Keep it from starting at boot. systemctl enable/disable also works offline
    #    (systemd installed but not PID 1), so check the unit either way.
    if command -v systemctl >/dev/null 2>&1 \
        && systemctl is-enabled --quiet postgresql 2>/dev/null; then
        echo "disabling postgresql service (systemd)"
        "${SUDO[@]}" systemctl disable --quiet postgresql 2>/dev/null \
            || echo "warning: could not disable postgresql.service" >&2
    fi
    if compgen -G '/etc/rc[2345].d/S*postgresql' >/dev/null \
        && command -v update-rc.d >/dev/null 2>&1; then
        echo "disabling postgresql service (sysv)"
        "${SUDO[@]}" update-rc.d postgresql disable >/dev/null 2>&1 \
            || echo "warning: could not disable /etc/init.d/postgresql" >&2
    fi
    return 0
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    if is_installed "$pkg"; then
        echo "ok $pkg"
    else
        echo "installing $pkg"
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} > 0)); then
    if [[ "$(id -u)" -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
        echo "error: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
    for pkg in "${missing[@]}"; do
        if ! is_installed "$pkg"; then
            echo "error: $pkg is still not installed" >&2
            exit 1
        fi
    done
fi

# Post-install fix-ups; cheap and idempotent, so they run every time.
if is_installed postgresql; then
    neutralise_postgresql_service
fi
