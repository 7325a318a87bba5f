"""Test support: Salon served with seeded rows from its own thread and event loop, for tests that block (the
property-based API test and the WebSocket fuzz test drive it with Hypothesis, whose tests are synchronous).

``served`` yields a :class:`LiveApi`: the base URL, the seeded members' tokens and the ids of one object of each kind
(``known``, keyed by the name of the path parameter that takes it), and ``run`` to run a coroutine on the server's
loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx

from salon.app import sessions
from salon.app.services import Services
from salon.app.settings import Settings
from salon.app.system import SystemClock
from salon.domain.api_paths import API_PREFIX
from salon.store.database import Database
from salon.store.migrate import upgrade
from salon.web.hub import Hub
from tests.support.live_server import serve
from tests.support.people import add_member
from tests.support.services import make_services

T = TypeVar("T")


@dataclass
class LiveApi:
    """A served Salon with seeded rows; ``run`` runs a coroutine on the server's own event loop."""

    base_url: str
    services: Services
    loop: asyncio.AbstractEventLoop
    stop: asyncio.Event
    token: str = ""
    leaver_id: str = ""
    known: dict[str, list[str]] = field(default_factory=dict)  # path parameter → ids of seeded objects
    accepted: set[str] = field(default_factory=set)  # operations that answered 2xx at least once

    @property
    def engine(self) -> str:
        """``sqlite`` or ``postgres``: the engine the server's store runs on."""
        return "sqlite" if self.services.db.is_sqlite else "postgres"

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    async def new_token(self, user_id: str) -> str:
        async with self.services.db.transaction() as conn:
            return (await sessions.create_session(self.services, conn, user_id, "bearer")).token


async def _seed(api: LiveApi) -> None:
    """An admin who fuzzes (moderator of a room with interpretation channels, and an interpreter there); another
    member, owner of a room and an event; one invite, waitlist entry and feed."""
    services = api.services
    fuzzer = await add_member(services, "fuzzer", admin=True)
    other = await add_member(services, "other")
    api.leaver_id = await add_member(services, "leaver")
    api.token = await api.new_token(fuzzer)
    other_token = await api.new_token(other)
    # a generous timeout: seeding is no timing test, and a loaded 2-core machine answers slowly
    async with httpx.AsyncClient(base_url=api.base_url + API_PREFIX, trust_env=False, timeout=60) as http:

        async def post(path: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
            response = await http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
            assert response.is_success, (path, response.text)
            answer: dict[str, Any] = response.json()
            return answer

        # with interpretation channels, the fuzzer a live interpreter of one, so booth commands can succeed
        languages = {"floor": "en", "channels": ["ar", "ru"]}
        mine = await post("/rooms", api.token, {"title": "Fuzzed", "description": "mine", "languages": languages})
        theirs = await post("/rooms", other_token, {"title": "Theirs", "type": "social"})
        await post(f"/rooms/{theirs['room']['id']}/join", api.token)
        await post(f"/rooms/{mine['room']['id']}/join", other_token)
        await post(f"/rooms/{mine['room']['id']}/interpreters", api.token, {"language": "ar", "user_id": fuzzer})
        invite = await post("/invites", api.token)
        await post("/waitlist", api.token, {"name": "Wanda", "contact": "wanda@example.org"})
        starts_at = (services.clock.now() + timedelta(days=30)).isoformat()
        event = await post("/events", other_token, {"title": "Later", "starts_at": starts_at})
        feed = await post("/me/calendar-feed", api.token)
        waiting = (await http.get("/waitlist", headers={"Authorization": f"Bearer {api.token}"})).json()
    api.known = {
        "room_id": [mine["room"]["id"], theirs["room"]["id"]],
        "user_id": [other, fuzzer],
        "username": ["other", "fuzzer"],
        "invite_id": [invite["id"]],
        "code": [invite["code"]],
        "entry_id": [e["id"] for e in waiting["entries"]],
        "event_id": [event["id"]],
        "token": [feed["url"].rsplit("/", 1)[-1].removesuffix(".ics")],
    }


@contextmanager
def served(db_url: str, tmp_path: Path, **settings: Any) -> Iterator[LiveApi]:
    """Salon on 127.0.0.1 (a free port) with ``settings`` over the tests' defaults, seeded, until the block ends."""
    config = Settings(data_dir=tmp_path / "data", dev=True, secret_key="x" * 40, **settings)
    started: concurrent.futures.Future[LiveApi] = concurrent.futures.Future()

    async def main() -> None:
        db = Database(db_url)
        try:
            if db.is_sqlite:
                await upgrade(db)
            services = make_services(config, db, clock=SystemClock(), bus=Hub(config))
            async with serve(services) as port:
                api = LiveApi(f"http://127.0.0.1:{port}", services, asyncio.get_running_loop(), asyncio.Event())
                await _seed(api)
                started.set_result(api)
                await api.stop.wait()
        except BaseException as exc:
            if started.done():
                raise
            started.set_exception(exc)  # raised in the test's thread
        finally:
            await db.dispose()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="served-salon")
    thread.start()
    try:
        api = started.result(timeout=60)
        yield api
    finally:
        if started.done() and started.exception() is None:
            api.loop.call_soon_threadsafe(api.stop.set)
        thread.join(timeout=30)
