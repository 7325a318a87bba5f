"""docs/DEPLOYMENT.md's short path is made only of commands its sections show (and their tests run): each command of
it, split at ``&&``, appears in the page below it. A step edited in its section and not in the short path (or the
other way round) fails here, so the page a newcomer copies from stays the tested one."""

from __future__ import annotations

import re
from pathlib import Path

DEPLOYMENT = Path(__file__).resolve().parents[3] / "docs" / "DEPLOYMENT.md"


def shell_commands(block: str) -> list[str]:
    """A shell block's commands: continuation lines joined, comments dropped, split at ``&&``, spaces squeezed."""
    joined = re.sub(r"\\\s*(#[^\n]*)?\n\s*", " ", block)
    commands = []
    for line in joined.splitlines():
        line = re.sub(r"\s+#\s.*$", "", line).strip()
        if line and not line.startswith("#"):
            commands += [" ".join(part.split()) for part in line.split("&&") if part.strip()]
    return commands


def short_path_and_the_rest() -> tuple[list[str], str]:
    text = DEPLOYMENT.read_text()
    head, rest = text.split("\n## 1.", 1)
    block = head.split("**The short path**", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    squeezed = " ".join(re.sub(r"\\\s*(#[^\n]*)?\n", " ", rest).split())
    return shell_commands(block), squeezed


def test_the_short_path_has_the_steps_of_every_section() -> None:
    commands, _ = short_path_and_the_rest()
    joined = "\n".join(commands)
    for step in ("make install", "certbot certonly", "proxy-config", "enable --now salon", "salon doctor"):
        assert step in joined, f"the short path lacks `{step}`"


def test_every_command_of_the_short_path_is_one_its_section_shows() -> None:
    commands, rest = short_path_and_the_rest()
    missing = [command for command in commands if command not in rest]
    assert not missing, f"commands of the short path no section shows: {missing}"
