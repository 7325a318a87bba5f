"""The operator's docs name only settings and commands that exist: a newcomer copying a line from README.md,
docs/DEPLOYMENT.md or deploy/ gets a setting Salon reads (``Settings`` forbids unknown ``SALON_*`` fields only when
they are passed to it, and ignores unknown environment variables, so a misspelt variable would be silently dropped)
and a ``salon`` command line whose subcommands and options the CLI knows."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from salon.app.settings import Settings
from salon.broadcast.config import SECRET_ENV as BROADCAST_WORKER_SECRET
from salon.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
OPERATOR_DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "deploy").rglob("*"))]
# Variables the docs name that are not settings of the app: the test runner's and the benchmarks' own switches.
NOT_SETTINGS = {  # SALON_BROADCAST_SECRET is the broadcast worker's (its own process), found from its config below
    "SALON_TEST_BACKENDS",
    "SALON_BENCH_TRACE",
    "SALON_BENCH_WS",
    "SALON_BENCH_GC",
}
SETTING = re.compile(r"\bSALON_[A-Z0-9_]*[A-Z0-9]\b")
FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
# `.venv/bin/salon …` (any prefix) or a line starting with `salon …`; the command ends at a comment, pipe, `;`, `&`.
COMMAND = re.compile(r"(?:^|[\s=(`])(?:\S*/)?\.venv/bin/salon((?: [^#|;&`'\n]*)?)|^\s*salon((?: [^#|;&`'\n]*)?)", re.M)


def documented_settings() -> Iterator[tuple[str, str]]:
    for path in OPERATOR_DOCS:
        if path.is_file():
            for name in SETTING.findall(path.read_text(errors="replace")):
                yield path.relative_to(ROOT).as_posix(), name


def documented_command_lines() -> Iterator[tuple[str, str]]:
    """``salon …`` lines inside the shell blocks of the operator docs (prose mentions are not commands)."""
    for path in (ROOT / "README.md", ROOT / "docs" / "DEPLOYMENT.md"):
        for block in FENCE.findall(path.read_text()):
            for line in block.splitlines():
                if not line.lstrip().startswith("#"):
                    for match in COMMAND.finditer(line):
                        words = match.group(1) or match.group(2) or ""
                        yield path.relative_to(ROOT).as_posix(), f"salon{words}".rstrip()


def resolve(words: list[str]) -> tuple[Any, list[str]]:
    """The (click-like) command a ``salon`` command line names, and the words after it. Groups are told by their
    ``commands``: Typer's classes are not all ``click.Group`` subclasses."""
    command: Any = typer.main.get_command(app)
    rest = list(words)
    while getattr(command, "commands", None) and rest and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    if getattr(command, "commands", None):
        raise LookupError(f"no such command: salon {' '.join(words)}")
    return command, rest


def test_every_documented_setting_is_one_salon_reads() -> None:
    fields = {f"SALON_{name.upper()}" for name in Settings.model_fields} | {BROADCAST_WORKER_SECRET}
    unknown = sorted({f"{where}: {name}" for where, name in documented_settings() if name not in fields | NOT_SETTINGS})
    assert not unknown, f"the docs name settings Salon does not read: {unknown}"


def test_the_docs_show_salon_command_lines() -> None:
    # The scan below must find the lines it checks, or it would pass on nothing.
    lines = [line for _, line in documented_command_lines()]
    assert any(" doctor" in line for line in lines), lines
    assert any(" proxy-config" in line for line in lines), lines


@pytest.mark.parametrize(("where", "line"), sorted(set(documented_command_lines())))
def test_every_documented_command_line_names_a_real_command_and_options(where: str, line: str) -> None:
    words = shlex.split(re.sub(r"[][]", " ", line.removeprefix("salon")))
    command, rest = resolve(words)
    options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    unknown = [w.split("=", 1)[0] for w in rest if w.startswith("--") and w.split("=", 1)[0] not in options]
    assert not unknown, f"{where}: `{line}`: salon {command.name} has no option {unknown}"
