"""CLI layer: ``salon doctor`` — is this server ready to serve the public? One verdict line per check, what to do
about each that is not ok, exit status 1 when any FAILs; ``--json`` for monitoring. The checks are in
``cli/doctor_checks.py``. It reads the same settings as ``salon serve`` (flags, then ``SALON_*``) and changes nothing.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from salon.app.settings import Settings
from salon.cli.doctor_checks import SYSTEM_PROBES, Check, Probes, run_checks
from salon.domain.text import printable as shown

MARKS = {"ok": "ok  ", "warn": "warn", "FAIL": "FAIL", "skip": "skip"}


def diagnose(overrides: dict[str, object], probes: Probes) -> list[Check]:
    """The checks' verdicts; settings that do not validate are one FAIL (nothing else can be checked)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = Settings(**given)  # type: ignore[arg-type]  # validated here, as `salon serve` does
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        return [Check("settings", "FAIL", problems, "fix the SALON_* variables (README.md, Settings)")]
    return asyncio.run(run_checks(settings, probes))


def report(checks: list[Check], as_json: bool) -> str:
    if as_json:
        return json.dumps({"ok": all(c.verdict != "FAIL" for c in checks), "checks": [asdict(c) for c in checks]})
    lines = []
    for check in checks:
        lines.append(f"{MARKS[check.verdict]}  {check.name}: {shown(check.message)}")
        if check.fix and check.verdict != "ok":
            lines.append(f"      → {shown(check.fix)}")
    return "\n".join(lines)


def doctor(
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data folder (SALON_DATA_DIR).")] = None,
    database_url: Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL.")] = None,
    public_url: Annotated[str | None, typer.Option("--public-url", help="The URL people open.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object: {ok, checks: [...]}.")] = False,
) -> None:
    """Check this server: secret key, TLS, the public URL, disk, clock, Janus, database, UDP ports, NAT, TURN. Exit
    status 1 when a check FAILs. Run it as the service's user with its settings (docs/DEPLOYMENT.md section 7)."""
    checks = diagnose({"data_dir": data_dir, "database_url": database_url, "public_url": public_url}, SYSTEM_PROBES)
    typer.echo(report(checks, as_json))
    if any(c.verdict == "FAIL" for c in checks):
        raise typer.Exit(1)
