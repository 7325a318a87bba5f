"""The ``salon`` command: operator invites, members, rooms, migrations and configuration errors (SQLite)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from salon.adapters.janus.runtime import broadcast_secret
from salon.app import accounts, moderation
from salon.app.rooms import NewRoom, create_room, get_snapshot
from salon.app.services import Services
from salon.app.settings import Settings
from salon.cli.main import app
from salon.domain.rooms import RoomType
from salon.domain.stream_tickets import SECRET_MIN_CHARS
from salon.store import tables
from salon.web.app import build_services
from tests.support.accounts import actor_of, sign_up_code

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SALON_SECRET_KEY", "k" * 40)
    return tmp_path / "data"


def salon(*args: str, env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def run(data_dir: Path, work: object) -> object:
    async def main() -> object:
        services = await build_services(Settings(data_dir=data_dir, secret_key="k" * 40))
        try:
            return await work(services)  # type: ignore[operator]
        finally:
            await services.db.dispose()

    return asyncio.run(main())


def test_migrate_creates_the_database(data_dir: Path) -> None:
    assert "up to date" in salon("migrate", "--data-dir", str(data_dir))
    assert (data_dir / "salon.db").exists()


def test_broadcast_secret_prints_the_workers_secret_and_not_salons(data_dir: Path) -> None:
    printed = salon("broadcast-secret", "--data-dir", str(data_dir)).strip()
    expected = broadcast_secret(Settings(data_dir=data_dir, secret_key="k" * 40))
    assert printed == expected
    assert "k" * 40 not in printed
    assert len(printed) >= SECRET_MIN_CHARS  # what the worker demands
    assert printed != salon("broadcast-secret", "--data-dir", str(data_dir), env={"SALON_SECRET_KEY": "m" * 40})


def test_an_admin_invite_makes_an_admin_and_users_can_be_listed_and_disabled(data_dir: Path) -> None:
    out = salon("invite", "create", "--admin", "--data-dir", str(data_dir))
    link = re.search(r"http://127\.0\.0\.1:8000/invite/(\S+)", out)
    assert link is not None
    code = link.group(1)

    async def redeem(services: Services) -> bool:
        return (await sign_up_code(services, code, "root")).user.is_admin

    assert run(data_dir, redeem) is True
    listing = salon("user", "list", "--data-dir", str(data_dir))
    assert re.search(r"root\s+yes\s+2\s+active", listing)

    assert "root is disabled" in salon("user", "disable", "ROOT", "--data-dir", str(data_dir))

    async def disabled(services: Services) -> bool:
        users = await accounts.list_users(services)
        return users[0].disabled_at is not None

    assert run(data_dir, disabled) is True
    missing = runner.invoke(app, ["user", "disable", "nobody", "--data-dir", str(data_dir)])
    assert missing.exit_code == 1
    assert "no member called nobody" in missing.output


def test_rooms_can_be_listed_and_ended(data_dir: Path) -> None:
    code = re.findall(r"invite/(\S+)", salon("invite", "create", "--data-dir", str(data_dir)))[0]

    async def open_room(services: Services) -> str:
        ada = await sign_up_code(services, code, "ada")
        view = await create_room(services, ada.user.id, NewRoom("Late jazz", "", ["jazz"], RoomType.OPEN))
        return str(view["room"]["id"])

    room_id = run(data_dir, open_room)
    assert isinstance(room_id, str)
    assert re.search(
        rf"{re.escape(room_id)}\s+open\s+1\s+Late jazz", salon("room", "list", "--data-dir", str(data_dir))
    )
    assert "has ended" in salon("room", "end", room_id, "--data-dir", str(data_dir))

    async def ended(services: Services) -> object:
        users = await accounts.list_users(services)
        return (await get_snapshot(services, users[0].id, room_id))["room"]["ended_at"]

    assert run(data_dir, ended) is not None
    assert room_id not in salon("room", "list", "--data-dir", str(data_dir))
    again = runner.invoke(app, ["room", "end", room_id, "--data-dir", str(data_dir)])
    assert again.exit_code == 1
    assert "room_ended" in again.output


def test_bad_configuration_is_reported_before_anything_starts(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALON_SECRET_KEY", "change-me")
    result = runner.invoke(app, ["migrate", "--data-dir", str(data_dir)])
    assert result.exit_code == 2
    assert "Invalid configuration" in result.output
    assert "SALON_SECRET_KEY" in result.output
    assert not data_dir.exists()


def test_reports_are_listed_newest_first_at_the_console(data_dir: Path) -> None:
    assert "No reports." in salon("report", "list", "--data-dir", str(data_dir))
    codes = re.findall(r"invite/(\S+)", salon("invite", "create", "--data-dir", str(data_dir)))
    codes += re.findall(r"invite/(\S+)", salon("invite", "create", "--data-dir", str(data_dir)))

    async def send(services: Services) -> str:
        ada, bob = [actor_of(await sign_up_code(services, c, n)) for c, n in zip(codes, ("ada", "bob"), strict=True)]
        room = await create_room(services, bob.user_id, NewRoom("Loud room", "", [], RoomType.OPEN))
        await moderation.report(services, ada, user_id=bob.user_id, reason="harassment", details="He\nshouts.")
        await moderation.report(services, ada, room_id=room["room"]["id"], reason="spam", details="x" * 200)
        return bob.user_id

    bob_id = run(data_dir, send)
    lines = salon("report", "list", "--data-dir", str(data_dir)).splitlines()
    assert lines[0].split()[:3] == ["when", "(UTC)", "reason"]
    assert re.search(r"spam\s+@ada\s+room 'Loud room' \(\w+\)\s+x{59}…$", lines[1])
    assert re.search(rf"harassment\s+@ada\s+@bob \({bob_id}\)\s+He shouts\.$", lines[2])
    one = runner.invoke(app, ["report", "list", "--limit", "1", "--data-dir", str(data_dir)])
    assert one.exit_code == 0
    assert "spam" in one.output
    assert "harassment" not in one.output


HOSTILE = "\x1b]0;owned\x07\x1b[2J\x1b[31m FAKE ADMIN NOTICE \x1b]52;c;Y3VybCBldmlsfHNo\x07\u202eevil\x9b"
SHOWN = "\\x1b]0;owned\\x07\\x1b[2J\\x1b[31m FAKE ADMIN NOTICE \\x1b]52;c;Y3VybCBldmlsfHNo\\x07\\u202eevil\\x9b"


def test_the_console_escapes_stored_text_a_terminal_would_act_on(data_dir: Path) -> None:
    """Rows written before the rules on text existed may hold escapes: listing them shows them, never runs them."""
    code = re.findall(r"invite/(\S+)", salon("invite", "create", "--data-dir", str(data_dir)))[0]

    async def plant(services: Services) -> None:
        ada = actor_of(await sign_up_code(services, code, "ada"))
        room = await create_room(services, ada.user_id, NewRoom("Quiet", "", [], RoomType.OPEN))
        await moderation.report(services, ada, room_id=room["room"]["id"], reason="spam", details="x")
        async with services.db.transaction() as conn:  # as an older version stored them
            await conn.execute(tables.rooms.update().values(title=HOSTILE))
            await conn.execute(tables.reports.update().values(details=HOSTILE[:40]))

    run(data_dir, plant)
    rooms = salon("room", "list", "--data-dir", str(data_dir))
    reports = salon("report", "list", "--data-dir", str(data_dir))
    for out in (rooms, reports):
        assert not any(c in out for c in "\x1b\x07\x9b\u202e"), repr(out)
    assert rooms.rstrip("\n").endswith(SHOWN)
    assert f"room '{SHOWN}'" in reports
