"""scripts/install-system-deps.sh, run against fake ``dpkg-query``/``apt-get``/``systemctl``/``service``: it stops
and disables the services a package brings (the stock PostgreSQL cluster, Janus, coturn, Redis, nginx's default
site, HAProxy) only in the run that installs that package. On a server that runs PostgreSQL, coturn, Redis or
HAProxy on purpose, `make install` (and every upgrade's `git pull && make install`, docs/DEPLOYMENT.md section 6)
must leave them running."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "install-system-deps.sh"

# Every fake appends its argv to $CALLS. dpkg-query says a package is installed unless it is listed in $MISSING;
# apt-get install takes it off that list. systemctl and service say every service is running and enabled.
FAKES = {
    "dpkg-query": 'pkg="${@: -1}"; grep -qx "$pkg" "$MISSING" || printf "install ok installed"',
    "apt-get": 'echo "apt-get $*" >> "$CALLS"; for p in "$@"; do sed -i "/^$p\\$/d" "$MISSING"; done',
    "systemctl": 'echo "systemctl $*" >> "$CALLS"; exit 0',
    "service": 'echo "service $*" >> "$CALLS"; exit 0',
    "update-rc.d": 'echo "update-rc.d $*" >> "$CALLS"; exit 0',
    "id": "echo 0",  # root, as `make install` runs it on a server (sudo otherwise)
}


def run_script(tmp_path: Path, missing: list[str]) -> list[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in FAKES.items():
        fake = bin_dir / name
        fake.write_text(f"#!/usr/bin/env bash\n{body}\n")
        fake.chmod(0o755)
    (tmp_path / "missing").write_text("".join(f"{pkg}\n" for pkg in missing))
    (tmp_path / "calls").touch()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "MISSING": str(tmp_path / "missing")}
    env["CALLS"] = str(tmp_path / "calls")
    done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return (tmp_path / "calls").read_text().splitlines()


NEUTRALISED = re.compile(
    r"^(?:systemctl (?:stop|disable)(?: --quiet)? (\S+)|service (\S+) stop|update-rc\.d (\S+) disable)$"
)


def stopped_or_disabled(calls: list[str]) -> set[str]:
    return {next(name for name in m.groups() if name) for call in calls if (m := NEUTRALISED.match(call))}


def test_services_of_packages_already_installed_are_left_alone(tmp_path: Path) -> None:
    calls = run_script(tmp_path, missing=[])
    assert not [c for c in calls if c.startswith("apt-get")], "nothing to install"
    assert stopped_or_disabled(calls) == set(), f"a server's running services were touched: {calls}"


def test_the_run_that_installs_a_package_neutralises_its_service(tmp_path: Path) -> None:
    calls = run_script(tmp_path, missing=["postgresql", "coturn", "certbot", "redis-server", "haproxy"])
    assert any(c.startswith("apt-get install") and "postgresql" in c and "coturn" in c for c in calls), calls
    assert stopped_or_disabled(calls) == {"postgresql", "coturn", "certbot.timer", "redis-server", "haproxy"}, calls
