"""Log-in limits and the client's address through the real app: the owner is never locked out by someone else's
wrong passwords, guessing is bounded, and X-Forwarded-For counts only from a configured proxy (log-in and waitlist).
The forged-header tests run a real uvicorn server, configured as ``salon serve`` configures it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from salon.app.devices import DEVICE_DAYS
from salon.app.fakes import FakeClock
from salon.app.ratelimit import LOGIN_PAIR_FAILURES, LOGIN_PAIR_LOCK_S
from salon.app.services import Services
from salon.app.settings import Settings
from salon.store.database import Database
from tests.support.accounts import PASSWORD
from tests.support.api import API, app_for, assert_error, client_for, signup
from tests.support.live_server import serve
from tests.support.services import make_services

WRONG = {"username": "ada", "password": "not the password"}
RIGHT = {"username": "ada", "password": PASSWORD}
WAITLIST_PER_HOUR = 20


@asynccontextmanager
async def live_client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app served by uvicorn on 127.0.0.1, as ``salon serve`` runs it."""
    async with serve(services) as port:
        base = f"http://127.0.0.1:{port}{API}"
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=10) as client:
            yield client


async def test_guessing_from_one_client_is_bounded_and_says_when_to_retry(services: Services) -> None:
    async with client_for(app_for(services.settings, services)) as client:
        await signup(client, services, "ada", mode="bearer")
        for _ in range(LOGIN_PAIR_FAILURES):
            assert_error(await client.post("/auth/login", json=WRONG), 401, "bad_credentials")
        limited = assert_error(await client.post("/auth/login", json=RIGHT), 429, "rate_limited")
        assert limited["data"]["retry_after"] == LOGIN_PAIR_LOCK_S
        assert limited["data"]["limit"] == "login_pair"


async def test_wrong_passwords_from_the_owners_address_do_not_stop_a_known_device(services: Services) -> None:
    app = app_for(services.settings, services)
    async with client_for(app) as browser, client_for(app) as bot, client_for(app) as attacker:
        await signup(browser, services, "ada")  # the browser keeps the device cookie it was given
        assert (await browser.post("/auth/logout", headers=await csrf(browser))).status_code == 200
        await signup(bot, services, "bob", mode="bearer")
        first = await bot.post("/auth/login", json={"username": "bob", "password": PASSWORD, "mode": "bearer"})
        device = first.headers["X-Salon-Device"]
        assert "set-cookie" not in first.headers
        for username in ("ada", "bob"):
            for _ in range(LOGIN_PAIR_FAILURES + 7):  # same address (127.0.0.1): pair locked, address limit full
                response = await attacker.post("/auth/login", json={"username": username, "password": "nope nope"})
                assert response.status_code in (401, 429)
            assert_error(await attacker.post("/auth/login", json={**RIGHT, "username": username}), 429, "rate_limited")
        again = await browser.post("/auth/login", json=RIGHT)
        assert again.status_code == 200
        [cookie] = [c for c in again.headers.get_list("set-cookie") if c.startswith("salon_device=")]
        for attribute in ("HttpOnly", "SameSite=strict", f"Path={API}/auth", f"Max-Age={DEVICE_DAYS * 86400}"):
            assert attribute.lower() in cookie.lower()
        bob = {"username": "bob", "password": PASSWORD, "mode": "bearer"}
        assert (await bot.post("/auth/login", json=bob, headers={"X-Salon-Device": device})).status_code == 200
        assert_error(await bot.post("/auth/login", json=bob), 429, "rate_limited")  # without it, a stranger


async def csrf(client: httpx.AsyncClient) -> dict[str, str]:
    session = (await client.get("/auth/session")).json()
    return {"X-CSRF-Token": session["csrf_token"]}


async def test_a_forged_forwarded_for_does_not_change_the_log_in_address(services: Services) -> None:
    async with live_client(services) as client:
        await signup(client, services, "ada", mode="bearer")
        for i in range(LOGIN_PAIR_FAILURES):
            forged = {"X-Forwarded-For": f"198.51.100.{i}"}
            assert_error(await client.post("/auth/login", json=WRONG, headers=forged), 401, "bad_credentials")
        forged = {"X-Forwarded-For": "198.51.100.200"}
        assert_error(await client.post("/auth/login", json=RIGHT, headers=forged), 429, "rate_limited")


async def test_a_forged_forwarded_for_does_not_change_the_waitlist_address(services: Services) -> None:
    async with live_client(services) as client:
        for i in range(WAITLIST_PER_HOUR):
            forged = {"X-Forwarded-For": f"198.51.100.{i}"}
            body = {"name": f"N{i}", "contact": f"n{i}@example.org"}
            assert (await client.post("/waitlist", json=body, headers=forged)).status_code == 202
        forged = {"X-Forwarded-For": "198.51.100.200"}
        body = {"name": "Last", "contact": "last@example.org"}
        assert_error(await client.post("/waitlist", json=body, headers=forged), 429, "rate_limited")


async def test_behind_a_trusted_proxy_each_client_has_its_own_buckets(
    database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    # The in-process transport's peer is 127.0.0.1: here, the proxy.
    settings = Settings.model_validate(
        {"data_dir": tmp_path / "data", "dev": True, "secret_key": "x" * 40, "trusted_proxies": "127.0.0.1"}
    )
    services = make_services(settings, database, clock=clock)
    async with client_for(app_for(settings, services)) as client:
        await signup(client, services, "ada", mode="bearer")
        one = {"X-Forwarded-For": "203.0.113.1"}
        two = {"X-Forwarded-For": "203.0.113.2"}
        for _ in range(LOGIN_PAIR_FAILURES):
            assert_error(await client.post("/auth/login", json=WRONG, headers=one), 401, "bad_credentials")
        assert_error(await client.post("/auth/login", json=RIGHT, headers=one), 429, "rate_limited")
        assert (await client.post("/auth/login", json=RIGHT, headers=two)).status_code == 200
        for i in range(WAITLIST_PER_HOUR):
            body = {"name": f"N{i}", "contact": f"n{i}@example.org"}
            assert (await client.post("/waitlist", json=body, headers=one)).status_code == 202
        last = {"name": "Last", "contact": "last@example.org"}
        assert_error(await client.post("/waitlist", json=last, headers=one), 429, "rate_limited")
        assert (await client.post("/waitlist", json=last, headers=two)).status_code == 202
