"""The client keeps the first of Salon's TURN URLs that allocates a relay (aiortc uses only one), with fake probes."""

from __future__ import annotations

import asyncio

from aiortc import RTCIceServer

from salon.client.turn_choice import Probe, usable_turn

UDP = "turn:turn.test:3478?transport=udp"
TCP = "turn:turn.test:3478?transport=tcp"
TLS = "turns:turn.test:5349?transport=tcp"
STUN = "stun:turn.test:3478"


def salon_servers() -> list[RTCIceServer]:
    """What GET /media/ice-servers gives: one entry with every TURN URL, UDP first, and a STUN one."""
    return [RTCIceServer(urls=[UDP, TCP, TLS], username="1:u", credential="c"), RTCIceServer(urls=[STUN])]


def prober(answering: set[str], tried: list[str], *, late: dict[str, float] | None = None) -> Probe:
    async def probe(url: str, server: RTCIceServer) -> None:
        tried.append(url)
        assert server.username == "1:u"
        if url not in answering:
            await asyncio.sleep(10)  # a dropped UDP request or a filtered port: no answer at all
        await asyncio.sleep((late or {}).get(url, 0.01))

    return probe


def test_with_udp_blocked_the_tcp_url_comes_first_and_alone() -> None:
    tried: list[str] = []
    chosen = asyncio.run(usable_turn(salon_servers(), probe=prober({TCP, TLS}, tried), wait_s=0.2, late_s=1.0))
    assert [s.urls for s in chosen] == [[TCP], [STUN]]
    assert chosen[0].username == "1:u"
    assert chosen[0].credential == "c"
    assert sorted(tried) == sorted([UDP, TCP, TLS]), "all tried at once"


def test_with_only_tls_getting_out_the_turns_url_is_kept() -> None:
    chosen = asyncio.run(usable_turn(salon_servers(), probe=prober({TLS}, []), wait_s=0.2, late_s=1.0))
    assert [s.urls for s in chosen] == [[TLS], [STUN]]


def test_udp_is_kept_where_it_works_without_waiting_for_the_others() -> None:
    async def timed() -> tuple[list[RTCIceServer], float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        chosen = await usable_turn(salon_servers(), probe=prober({UDP}, []), wait_s=5.0)
        return chosen, loop.time() - started

    chosen, took = asyncio.run(timed())
    assert [s.urls for s in chosen] == [[UDP], [STUN]]
    assert took < 1.0


def test_nothing_answers_or_one_url_leaves_the_servers_as_they_are() -> None:
    servers = salon_servers()
    assert asyncio.run(usable_turn(servers, probe=prober(set(), []), wait_s=0.1, late_s=0.2)) == servers
    one = [RTCIceServer(urls=[TCP], username="1:u", credential="c")]
    tried: list[str] = []
    assert asyncio.run(usable_turn(one, probe=prober(set(), tried), wait_s=0.1, late_s=0.2)) == one
    assert tried == [], "a single TURN URL is not probed"


def test_a_slow_tls_server_is_still_taken_when_nothing_else_answers() -> None:
    """UDP and TCP dropped; TLS answers after Salon's first URL had its time (a handshake on a loaded box)."""
    chosen = asyncio.run(usable_turn(salon_servers(), probe=prober({TLS}, [], late={TLS: 0.4}), wait_s=0.1, late_s=2.0))
    assert [s.urls for s in chosen] == [[TLS], [STUN]]


def test_once_udp_is_given_up_the_first_in_order_that_answered_wins() -> None:
    chosen = asyncio.run(
        usable_turn(salon_servers(), probe=prober({TCP, TLS}, [], late={TCP: 0.05, TLS: 0.01}), wait_s=0.2, late_s=1.0)
    )
    assert [s.urls for s in chosen] == [[TCP], [STUN]]
