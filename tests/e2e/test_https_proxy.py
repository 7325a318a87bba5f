"""Salon behind nginx on HTTPS, as docs/DEPLOYMENT.md (section 2) sets it up, with a local CA for a public one.

In a network namespace the test makes: ``salon serve`` with ``SALON_PUBLIC_URL=https://salon.test``,
``SALON_TRUSTED_PROXIES=127.0.0.1`` and a broadcast worker on ``SALON_BROADCAST_PORT``; nginx on 80 and 443 with
exactly what ``salon proxy-config`` prints for those settings; two Chromiums whose HOME holds an NSS database that
trusts the test's CA, ``salon.test`` mapped to the namespace's 127.0.0.1 by ``--host-resolver-rules`` (a DNS
answer, not a security exception). No certificate-error or insecure-origin flag anywhere: Chromium accepts the site
only because the certificate chains to a CA it trusts, and getUserMedia works only because the page is a secure
context.

A speaker and a listener sign in through the log-in form over https; the speaker's microphone tone reaches the
listener on the broadcast tier through nginx's ``/broadcast/w0/``, with the room's WebSocket through nginx too. The
page is a secure context, the session cookie is Secure, HSTS is sent, and port 80 redirects to https. Salon tells
clients apart by the X-Forwarded-For nginx passes on (log-in limits).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx
from playwright.async_api import Browser, Cookie, Page, Playwright, async_playwright, expect
from playwright.async_api import Error as PlaywrightError

from salon.app.ratelimit import LOGIN_PAIR_FAILURES
from tests.support.browser import (
    CHROMIUM_ARGS,
    Member,
    SalonApi,
    SalonServer,
    hears,
    launch_browser,
    probed_context,
    running_salon,
)
from tests.support.https_proxy import local_ca, running_nginx, trusting_home
from tests.support.netns import network_namespace

DOMAIN: Final = "salon.test"
SITE: Final = f"https://{DOMAIN}"
APP_PORT: Final = 8000  # the namespace is the test's own: fixed ports cannot collide with anything
BROADCAST_PORT: Final = 8100
SETTINGS: Final = {
    "SALON_PUBLIC_URL": SITE,
    "SALON_TRUSTED_PROXIES": "127.0.0.1",
    "SALON_PORT": str(APP_PORT),
    "SALON_BROADCAST_PORT": str(BROADCAST_PORT),
    "SALON_BROADCAST_WORKERS": "1",
}
# The only flag this test adds: salon.test resolves to the namespace's loopback, where nginx listens on 443.
RESOLVE: Final = f"--host-resolver-rules=MAP {DOMAIN} 127.0.0.1"
INSECURE_FLAGS: Final = (
    "--ignore-certificate-errors",
    "--unsafely-treat-insecure-origin-as-secure",
    "--allow-insecure",
)
TONE_HZ: Final = 440.0
MUSIC_MODE: Final = "localStorage.setItem('salon.musicMode', '1');"  # the tone untouched by voice processing
SCENARIO_TIMEOUT_S: Final = 150.0


def proxy_config(cert: Path, key: Path) -> str:
    """What ``salon proxy-config`` prints for the server's settings (the console script, as an operator runs it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALON_")}
    env.update(SETTINGS)
    script = Path(sys.executable).with_name("salon")
    done = subprocess.run(
        [script, "proxy-config", "--cert", cert, "--key", key], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def sign_in(playwright: Playwright, workdir: Path, member: Member, mic: float | None) -> tuple[Browser, Page]:
    """A Chromium trusting the test's CA (its own HOME), signed in as ``member`` through the log-in form."""
    home = trusting_home(workdir / f"{member.username}-home", workdir / "ca.pem")
    browser = await launch_browser(playwright, workdir, member.username, mic, extra_args=(RESOLVE,), home=home)
    context = await probed_context(browser, SITE)
    await context.add_init_script(MUSIC_MODE)
    page = await context.new_page()
    page.set_default_timeout(15_000)
    await page.goto("/welcome")
    await page.get_by_label("Username").fill(member.username)
    await page.get_by_label("Password").fill(member.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{SITE}/")
    return browser, page


async def refused_without_the_ca(playwright: Playwright, workdir: Path) -> str:
    """What a Chromium whose HOME has no NSS database (so no trust in the test's CA) says when it opens the site."""
    home = workdir / "stranger-home"
    home.mkdir()
    browser = await launch_browser(playwright, workdir, "stranger", None, extra_args=(RESOLVE,), home=home)
    try:
        page = await browser.new_page()
        try:
            await page.goto(SITE)
        except PlaywrightError as exc:
            return str(exc)
        return "loaded"
    finally:
        await browser.close()


@dataclass
class Seen:
    """What the scenario saw, checked after everything it started has stopped."""

    untrusted: str = ""  # what a Chromium without the CA said
    redirect: tuple[int, str | None] = (0, None)  # port 80's answer: status, Location
    hsts: str | None = None
    heard_in_s: float = 0.0
    secure_context: object = None
    session_cookies: list[Cookie] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)  # the listener's WebSocket URLs
    streams: list[str] = field(default_factory=list)  # the listener's broadcast stream URLs
    access_log: str = ""  # nginx's
    logins: list[int] = field(default_factory=list)  # statuses: see forwarded_addresses


async def forwarded_addresses(api: SalonApi, admin: Member, ca: Path) -> list[int]:
    """Log-in answers through nginx for a member whose password is guessed from one client address: after
    ``LOGIN_PAIR_FAILURES`` failures that address is locked out (429) and another is not (200), which Salon can only
    tell apart from the X-Forwarded-For nginx passes on (SALON_TRUSTED_PROXIES names nginx's 127.0.0.1; the test's
    client is on that loopback too, so the address it claims stands for a client beyond another trusted hop)."""
    cat = await api.add_member(admin, "cat")
    right = {"username": cat.username, "password": cat.password, "mode": "bearer"}
    wrong = {**right, "password": "not-the-password"}
    tls = ssl.create_default_context(cafile=str(ca))
    answers = []
    async with httpx.AsyncClient(base_url="https://127.0.0.1", verify=tls, trust_env=False, timeout=10) as http:

        async def log_in(body: dict[str, str], client: str) -> int:
            headers = {"Host": DOMAIN, "X-Forwarded-For": client}
            sni = {"sni_hostname": DOMAIN}  # the certificate is checked against salon.test, as a browser would
            return (await http.post("/api/v1/auth/login", json=body, headers=headers, extensions=sni)).status_code

        for _ in range(LOGIN_PAIR_FAILURES):
            answers.append(await log_in(wrong, "203.0.113.1"))
        answers += [await log_in(right, "203.0.113.1"), await log_in(right, "203.0.113.2")]
    return answers


async def scenario(server: SalonServer, conf: str, workdir: Path) -> Seen:
    seen = Seen()
    with running_nginx(conf, workdir / "nginx") as nginx:
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            redirect = await http.get("http://127.0.0.1/rooms?x=1", headers={"Host": DOMAIN})
            seen.redirect = (redirect.status_code, redirect.headers.get("location"))
        async with SalonApi(server) as api:
            admin = await api.sign_up_admin()
            ann = await api.add_member(admin, "ann")
            bea = await api.add_member(admin, "bea")
            room = await api.create_room(ann, "Over TLS")
            seen.logins = await forwarded_addresses(api, admin, workdir / "ca.pem")
        async with async_playwright() as playwright:
            seen.untrusted = await refused_without_the_ca(playwright, workdir)
            (a_browser, a), (b_browser, b) = await asyncio.gather(
                sign_in(playwright, workdir, ann, TONE_HZ), sign_in(playwright, workdir, bea, None)
            )
            try:
                sockets: list[str] = []
                streams: list[str] = []
                b.on("websocket", lambda ws: sockets.append(ws.url))
                b.on("request", lambda r: streams.append(r.url) if "/v1/stream/" in r.url else None)
                opened = await a.goto(f"/room/{room}")
                assert opened is not None
                seen.hsts = opened.headers.get("strict-transport-security")
                await a.get_by_role("button", name="Unmute").click()
                await expect(a.get_by_role("button", name="Mute", exact=True)).to_be_visible()
                await b.goto(f"/room/{room}")
                seen.heard_in_s = await hears(b, TONE_HZ, timeout=30)
                seen.secure_context = await b.evaluate("window.isSecureContext")
                seen.session_cookies = [c for c in await b.context.cookies() if c.get("name") == "salon_session"]
                seen.sockets, seen.streams = list(sockets), list(streams)
            finally:
                await asyncio.gather(a_browser.close(), b_browser.close())
        seen.access_log = nginx.access_log()
    return seen


def test_chromium_reaches_salon_through_the_https_proxy_and_a_listener_hears_a_speaker(tmp_path: Path) -> None:
    assert not any(flag.startswith(INSECURE_FLAGS) for flag in (*CHROMIUM_ARGS, RESOLVE))
    tls = local_ca(tmp_path, DOMAIN)
    conf = proxy_config(tls.cert, tls.key)
    assert f"location /broadcast/w0/ {{\n        proxy_pass http://127.0.0.1:{BROADCAST_PORT}/;" in conf
    with network_namespace("salon-https") as ns, running_salon(ns, tmp_path, SETTINGS) as server:
        seen = ns.run(lambda: scenario(server, conf, tmp_path), timeout=SCENARIO_TIMEOUT_S)
        # nginx and the browsers are gone; only the server and its media plane may still run in the namespace.
        leftovers = ns.pids() - {server.pid} - server.media_pids()
        assert not leftovers, f"processes left in the namespace: {sorted(leftovers)}"
    print(f"\nhttps proxy: heard the speaker in {seen.heard_in_s:.2f} s; HSTS {seen.hsts!r}")
    # The same Chromium without the CA in its NSS database refuses the site: the trust comes from there alone.
    assert "ERR_CERT_AUTHORITY_INVALID" in seen.untrusted, seen.untrusted
    assert seen.redirect == (301, f"{SITE}/rooms?x=1")
    assert seen.secure_context is True
    assert seen.hsts is not None
    assert "max-age=" in seen.hsts
    assert [c.get("secure") for c in seen.session_cookies] == [True], seen.session_cookies
    assert any(url.startswith(f"wss://{DOMAIN}/") for url in seen.sockets), seen.sockets
    assert any(url.startswith(f"{SITE}/broadcast/w0/v1/stream/") for url in seen.streams), seen.streams
    assert seen.logins == [401] * LOGIN_PAIR_FAILURES + [429, 200], seen.logins
    # nginx itself served the stream (through /broadcast/w0/) and the WebSocket (101 Switching Protocols).
    assert '"GET /broadcast/w0/v1/stream/' in seen.access_log, seen.access_log[-2000:]
    assert " 101 " in seen.access_log, seen.access_log[-2000:]
