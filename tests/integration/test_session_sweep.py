"""WebSockets of sessions that ended where this process could not see it (the console, another instance, expiry)
are closed by the sweeper; standing sessions keep their sockets."""

from __future__ import annotations

import asyncio

import pytest

from salon.app.fakes import FakeClock
from salon.app.services import Services
from salon.store.tables import sessions
from salon.web import sweeper
from salon.web.errors import WS_CLOSE_SESSION_ENDED
from salon.web.hub import Hub
from salon.web.sweeper import sweep_once
from tests.support.accounts import sign_up

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


class Socket:
    def __init__(self) -> None:
        self.closed: int | None = None

    async def send_text(self, data: str) -> None:
        return None

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = code


async def test_sessions_ended_elsewhere_or_expired_lose_their_sockets(
    services: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweeper, "SWEEP_CHUNK", 2)  # three sessions: the check runs in two chunks
    hub = Hub(services.settings)
    ada = await sign_up(services, "ada")
    bob = await sign_up(services, "bob")
    eve = await sign_up(services, "eve")
    sockets = {name: Socket() for name in ("ada", "bob", "eve")}
    for name, signed in (("ada", ada), ("bob", bob), ("eve", eve)):
        assert hub.connect(sockets[name], signed.user.id, signed.session.token_hash) is not None

    assert await sweep_once(services, hub) == []
    # Bob's session is deleted by another process (e.g. `salon user disable`), with no message to this hub.
    async with services.db.transaction() as conn:
        await conn.execute(sessions.delete().where(sessions.c.token_hash == bob.session.token_hash))
    assert await sweep_once(services, hub) == [bob.session.token_hash]
    # Every session expires eventually.
    clock.advance(services.settings.session_days * 86400 + 1)
    assert sorted(await sweep_once(services, hub)) == sorted([ada.session.token_hash, eve.session.token_hash])
    for _ in range(10):
        await asyncio.sleep(0)
    assert {name: s.closed for name, s in sockets.items()} == {
        "ada": WS_CLOSE_SESSION_ENDED,
        "bob": WS_CLOSE_SESSION_ENDED,
        "eve": WS_CLOSE_SESSION_ENDED,
    }
    assert hub.connection_count == 0
