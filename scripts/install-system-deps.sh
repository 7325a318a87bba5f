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
    # pg_dump / pg_restore: `salon backup` and `salon restore` with PostgreSQL (and their tests).
    postgresql-client
    janus
    iproute2
    # The NAT test (tests/integration/media/test_nat.py): the 1:1 NAT router and the client's firewall.
    nftables
    # End-to-end browser tests (tests/e2e): Playwright drives Debian's Chromium (never a downloaded build). The
    # fonts are named because --no-install-recommends leaves them out and screenshots would have boxes for text.
    chromium
    fonts-dejavu-core
    fonts-liberation
    # The broadcast bench's load client is C, built at run time (bench/stream_load.c): a Python client would
    # cost more CPU than the server it measures.
    gcc
    libc6-dev
    # The HTTPS test (tests/e2e/test_https_proxy.py): nginx in front of salon serve, as docs/DEPLOYMENT.md has it
    # (Debian's nginx-light is only a transitional name for it now), and certutil, which makes the NSS database
    # where Chromium trusts the test's own CA.
    nginx
    libnss3-tools
    # The certificate steps of docs/DEPLOYMENT.md section 2, as run by tests/e2e/test_https_certbot.py: Debian's
    # certbot against pebble, Let's Encrypt's ACME test server (pebble-challtestsrv, its DNS, ships with it).
    certbot
    pebble
    # TURN (docs/DEPLOYMENT.md section 3): `salon serve` runs its own locked-down coturn when SALON_TURN=managed;
    # tests/integration/turn drives a real one on loopback.
    coturn
    # deploy/systemd's unit is checked with `systemd-analyze verify` (tests/unit/deploy), which needs no running
    # systemd; timedatectl (same package) is what `salon doctor` asks about the clock.
    systemd
    # tests/integration/deploy/test_systemd_service.py runs deploy/systemd/salon.service under a real systemd: a
    # container booted by systemd-nspawn (this package; it starts no service of its own: systemd-machined is only
    # activated on demand through D-Bus). Inside it the test makes /opt/salon/.venv with Debian's python3 (venv),
    # probes /readyz with curl, and looks for Janus and the workers with pgrep (procps).
    systemd-container
    python3-venv
    curl
    procps
    # Several instances share live events through Redis (SALON_REDIS_URL, docs/DEPLOYMENT.md); the tests start
    # their own private redis-server (tests/support/redis.py), so the package's own service is stopped below.
    redis-server
    # The front door of several instances (docs/DEPLOYMENT.md, "Several instances behind a front door"): HAProxy
    # runs what `salon front-door-config` prints; tests/integration/test_front_door.py starts its own, so the
    # package's own service (stock config, no Salon in it) is stopped below.
    haproxy
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

# Stop and disable a system-wide service that a Debian package creates (and may
# start): postgresql's cluster, janus with its stock config (API open on all
# interfaces, no secret), coturn with its stock config. salon's tests run their own throwaway servers and salon
# runs its own locked-down Janus; neither may depend on, or collide with, these.
neutralise_service() {
    local name="$1"
    # 1. Stop it if it is running.
    if systemd_running; then
        if systemctl is-active --quiet "$name" 2>/dev/null; then
            echo "stopping $name service (systemd)"
            "${SUDO[@]}" systemctl stop "$name"
        fi
    elif [[ -x "/etc/init.d/$name" ]] && command -v service >/dev/null 2>&1; then
        # No systemd (e.g. a container): the SysV init script. Not coturn's: its stop kills *every*
        # /usr/bin/turnserver (start-stop-daemon --exec), a running Salon's managed one and the tests' included.
        # The package's own daemon is the one running as its `turnserver` user: stopped by PID.
        if [[ "$name" == coturn ]]; then
            local pid
            for pid in $(pgrep -u turnserver -x turnserver 2>/dev/null || true); do
                echo "stopping coturn's own turnserver (pid $pid)"
                "${SUDO[@]}" kill "$pid" || true
            done
        elif service "$name" status >/dev/null 2>&1; then
            echo "stopping $name service (sysv)"
            "${SUDO[@]}" service "$name" stop
        fi
    fi
    # 2. Keep it from starting at boot. systemctl enable/disable also works offline
    #    (systemd installed but not PID 1), so check the unit either way.
    if command -v systemctl >/dev/null 2>&1 \
        && systemctl is-enabled --quiet "$name" 2>/dev/null; then
        echo "disabling $name service (systemd)"
        "${SUDO[@]}" systemctl disable --quiet "$name" 2>/dev/null \
            || echo "warning: could not disable $name.service" >&2
    fi
    if compgen -G "/etc/rc[2345].d/S*$name" >/dev/null \
        && command -v update-rc.d >/dev/null 2>&1; then
        echo "disabling $name service (sysv)"
        "${SUDO[@]}" update-rc.d "$name" disable >/dev/null 2>&1 \
            || echo "warning: could not disable /etc/init.d/$name" >&2
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

# A service is stopped and disabled only by the run that installs its package: on a server that runs PostgreSQL,
# coturn, Redis, HAProxy or nginx on purpose, `make install` (and every upgrade's `git pull && make install`) leaves them alone.
just_installed() {
    local pkg
    for pkg in "${missing[@]}"; do
        [[ "$pkg" == "$1" ]] && return 0
    done
    return 1
}
for service in postgresql janus coturn redis-server haproxy; do
    if just_installed "$service"; then
        neutralise_service "$service"
    fi
done
# nginx's package starts its default site on port 80; the tests run their own nginx in their own namespaces. A
# server that fronts Salon with it (docs/DEPLOYMENT.md, section 2: /etc/nginx/conf.d/salon.conf) keeps it running.
if just_installed nginx && [[ ! -e /etc/nginx/conf.d/salon.conf ]]; then
    neutralise_service nginx
fi
# certbot's package enables its renewal timer; installed with no certificate yet (a test machine, or a server before
# section 2's `certbot certonly`) it is turned off, and section 2 turns it on once there is one to renew. Its cron job
# (/etc/cron.d/certbot, for machines without systemd) renews only certificates that exist: nothing here.
if just_installed certbot && ! compgen -G "/etc/letsencrypt/renewal/*.conf" >/dev/null; then
    neutralise_service certbot.timer
fi
