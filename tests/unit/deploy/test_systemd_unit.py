"""deploy/systemd: the unit passes ``systemd-analyze verify`` without a warning (systemd is not started: verify only
parses and checks the files), its stop budget covers ``salon serve``'s own shutdown bounds, and the example
environment file names only settings that exist."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

from salon.adapters.broadcast.process import STOP_TIMEOUT_S as WORKER_STOP_S
from salon.adapters.janus.process import ManagedJanus
from salon.app.settings import Settings
from salon.cli.runtime import GRACEFUL_SHUTDOWN_S
from salon.web.app import SHUTDOWN_MEDIA_S

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "systemd"
UNIT = DEPLOY / "salon.service"
ENV_EXAMPLE = DEPLOY / "salon.env.example"


def service() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd's keys are case-sensitive
    parser.read(UNIT)
    return dict(parser["Service"])


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)s?", value)
    assert match, f"{value!r}: write the unit's times in seconds"
    return float(match.group(1))


def test_the_unit_verifies_without_a_warning(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: scripts/install-system-deps.sh installs the systemd package"
    # Where this checkout's `salon` is, for the ExecStart check; the settings file need not exist here.
    text = UNIT.read_text().replace("/opt/salon/.venv/bin/salon", str(Path(sys.executable).parent / "salon"))
    text = text.replace("EnvironmentFile=/", "EnvironmentFile=-/")
    (tmp_path / "salon.service").write_text(text)
    done = subprocess.run(
        [analyze, "verify", str(tmp_path / "salon.service")], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stderr.strip()) == (0, "")


def test_the_service_runs_as_salon_restarts_on_failure_and_is_confined() -> None:
    s = service()
    assert (s["User"], s["Group"]) == ("salon", "salon")
    assert s["ExecStart"].endswith("/.venv/bin/salon serve")
    assert s["Restart"] == "on-failure"
    confined = (s["NoNewPrivileges"], s["ProtectSystem"], s["ProtectHome"], s["PrivateTmp"])
    assert confined == ("yes", "strict", "yes", "yes")
    data_dir = dict(line.split("=", 1) for line in [s["Environment"]])["SALON_DATA_DIR"]
    assert s["ReadWritePaths"] == data_dir == "/var/lib/" + s["StateDirectory"], "the data folder is writable"
    # Janus lists interfaces over netlink for ICE; UDP/TCP for media; a Unix socket for PostgreSQL.
    assert set(s["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    assert int(s["LimitNOFILE"]) >= 10_000 + 2_000, "10,000 broadcast listeners and the rest"


def test_a_stop_is_sigterm_to_salon_alone_with_time_for_its_whole_shutdown() -> None:
    s = service()
    # mixed: the children (Janus, workers) are stopped by salon serve in order, after it released the rooms' media.
    assert (s["KillSignal"], s["KillMode"]) == ("SIGTERM", "mixed")
    janus_stop = ManagedJanus(Path("unused")).stop_timeout  # its default
    worst = GRACEFUL_SHUTDOWN_S + SHUTDOWN_MEDIA_S + WORKER_STOP_S + janus_stop
    assert seconds(s["TimeoutStopSec"]) >= worst + 10, f"the stop may take {worst} s"


def test_the_example_environment_names_real_settings_only() -> None:
    names = re.findall(r"^#?(SALON_[A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE)
    fields = {f"SALON_{name.upper()}" for name in Settings.model_fields}
    assert names
    assert set(names) <= fields, set(names) - fields
    for needed in ("SALON_PUBLIC_URL", "SALON_SECRET_KEY_FILE", "SALON_TRUSTED_PROXIES", "SALON_BROADCAST_PORT"):
        assert f"\n{needed}=" in ENV_EXAMPLE.read_text(), f"{needed} is set in the example"
