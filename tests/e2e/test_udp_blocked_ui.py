"""Chromium on a network that drops all UDP hears a room, and is heard, through Salon's TURN over TCP and over TLS.

The namespaces of tests/support/udp_blocked.py: ``salon serve`` with its managed Janus and coturn in the server one,
listeners on the WebRTC tier (``SALON_AUDIENCE_TIER=webrtc``: the broadcast tier is HTTP and would need no TURN);
two Chromiums in the client one, whose firewall drops every UDP packet. They open Salon at http://127.0.0.1:8000 (a
forwarder to the server over TCP, so the page is a secure context without any flag) and get Salon's default TURN
URLs from GET /api/v1/media/ice-servers: UDP, TCP and TLS (port 5349, a certificate for the address from the test's
CA, which each Chromium trusts only through the NSS database in its HOME, as in test_https_proxy.py).

The speaker's fake microphone plays 440 Hz; the listener hears it (measured from the decoded audio), and both
pages' selected ICE pair is a relay candidate reached over TCP — with TCP to 3478 dropped as well, over TLS, which
shows Chromium checks coturn's certificate against the trust its HOME gives it. No UDP from the client reaches the
server's namespace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
from playwright.async_api import Browser, Page, Playwright, async_playwright, expect

from tests.support.browser import (
    Member,
    SalonApi,
    SalonServer,
    hears,
    launch_browser,
    log_in,
    probed_context,
    running_salon,
)
from tests.support.https_proxy import trusting_home
from tests.support.udp_blocked import APP_PORT, TURN_PORT, UdpBlocked, loopback_forward, salon_settings, udp_blocked

TONE_HZ: Final = 440.0
MUSIC_MODE: Final = "localStorage.setItem('salon.musicMode', '1');"  # the tone untouched by voice processing
SCENARIO_TIMEOUT_S: Final = 90.0
STREAM_PATH: Final = "/v1/stream/"
CASES: Final = ("tcp", "tls")  # how the relay is reached: the firewall drops UDP, then TCP to 3478 as well

# Every RTCPeerConnection the page makes, kept (wrapping the probe's own wrapper), so the test can read its stats.
KEEP_PEERS: Final = """
(() => {
  const Probed = window.RTCPeerConnection;
  window.__salonPeers = [];
  window.RTCPeerConnection = class extends Probed {
    constructor(...args) { super(...args); window.__salonPeers.push(this); }
  };
})();
"""

# For each open connection: its state and the selected pair's local candidate (type, and how a relay reaches TURN).
SELECTED_PAIRS: Final = """
async () => {
  const out = [];
  for (const pc of window.__salonPeers) {
    if (pc.connectionState === 'closed') continue;
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((r) => {
      if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
    });
    const local = pair ? stats.get(pair.localCandidateId) : null;
    const gathered = [];
    stats.forEach((r) => {
      if (r.type === 'local-candidate') gathered.push(`${r.candidateType}/${r.protocol}/${r.relayProtocol || '-'}`);
    });
    out.push({ state: pc.connectionState, type: local ? local.candidateType : null,
               relay: local ? (local.relayProtocol || null) : null, gathered });
  }
  return out;
}
"""


@dataclass(frozen=True)
class Stage:
    net: UdpBlocked
    server: SalonServer
    speaker: Member
    listener: Member
    rooms: dict[str, str]  # one per case: the speaker is still on air in the last one for a while after it ends
    workdir: Path


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    workdir = tmp_path_factory.mktemp("udp-blocked-ui")
    # The pages' origin is the forwarder's (their WebSocket is refused from an origin Salon does not know).
    settings = {**salon_settings(workdir), "SALON_EXTRA_ORIGINS": f'["http://127.0.0.1:{APP_PORT}"]'}
    with udp_blocked() as net, running_salon(net.server, workdir, settings) as server:

        async def seed() -> tuple[Member, Member, dict[str, str]]:
            async with SalonApi(server) as api:
                admin = await api.sign_up_admin()
                ann, cat = await api.add_member(admin, "ann"), await api.add_member(admin, "cat")
                return ann, cat, {case: await api.create_room(ann, f"No UDP here ({case})") for case in CASES}

        ann, cat, rooms = net.server.run(seed, timeout=30)
        yield Stage(net, server, ann, cat, rooms, workdir)
        leftovers = net.client.pids()
        assert not leftovers, f"processes left in the client namespace: {sorted(leftovers)}"


async def open_as(
    playwright: Playwright, stage: Stage, member: Member, mic_hz: float | None, case: str
) -> tuple[Browser, Page]:
    """A Chromium (its HOME trusting the test's CA) signed in as ``member``, on the room's page."""
    home = trusting_home(stage.workdir / f"{case}-{member.username}-home", stage.workdir / "ca.pem")
    browser = await launch_browser(playwright, stage.workdir, f"{case}-{member.username}", mic_hz, home=home)
    context = await probed_context(browser, stage.server.base_url)  # http://127.0.0.1:8000: the forwarder
    await context.add_init_script(MUSIC_MODE)
    await context.add_init_script(KEEP_PEERS)
    await log_in(context, stage.server, member)
    page = await context.new_page()
    page.set_default_timeout(20_000)
    return browser, page


async def scenario(stage: Stage, case: str) -> dict[str, Any]:
    async with loopback_forward(), async_playwright() as playwright:
        (a_browser, a), (b_browser, b) = await asyncio.gather(
            open_as(playwright, stage, stage.speaker, TONE_HZ, case),
            open_as(playwright, stage, stage.listener, None, case),
        )
        try:
            streams: list[str] = []
            b.on("request", lambda r: streams.append(r.url) if STREAM_PATH in r.url else None)
            await a.goto(f"/room/{stage.rooms[case]}")
            await a.get_by_role("button", name="Unmute").click()
            await expect(a.get_by_role("button", name="Mute", exact=True)).to_be_visible()
            await b.goto(f"/room/{stage.rooms[case]}")
            heard_in_s = await hears(b, TONE_HZ, timeout=40)
            return {
                "heard_in_s": heard_in_s,
                "speaker": await a.evaluate(SELECTED_PAIRS),
                "listener": await b.evaluate(SELECTED_PAIRS),
                "streams": streams,
            }
        finally:
            await asyncio.gather(a_browser.close(), b_browser.close())


@pytest.mark.parametrize(
    ("blocked_tcp", "relay"),
    [((), "tcp"), ((TURN_PORT,), "tls")],
    ids=["udp-blocked-turn-tcp", "udp-and-3478-blocked-turns"],
)
def test_chromium_with_udp_blocked_hears_and_is_heard_through_turn(
    stage: Stage, blocked_tcp: tuple[int, ...], relay: str
) -> None:
    stage.net.block(tcp_ports=blocked_tcp)
    seen = stage.net.client.run(lambda: scenario(stage, relay), timeout=SCENARIO_TIMEOUT_S)
    print(f"\nChromium over TURN/{relay}: heard in {seen['heard_in_s']:.2f} s; {seen}")
    assert seen["streams"] == [], "the listener is on the WebRTC tier, not the broadcast one"
    for who in ("speaker", "listener"):
        pairs = seen[who]
        assert [(p["state"], p["type"], p["relay"]) for p in pairs] == [("connected", "relay", relay)], (who, pairs)
    assert stage.net.udp_dropped() > 0, "Chromium tried UDP (host candidates, TURN over UDP) and it was dropped"
    assert stage.net.udp_arrived() == 0, "no UDP from the client reached the server"
    if blocked_tcp:
        assert stage.net.tcp_dropped() > 0, "Chromium tried TURN over TCP to 3478 too"
