"""A real coturn (the managed one's config and process) on loopback, driven by aioice's TURN client: fresh
credentials allocate a relay and carry data to a media server; expired or forged ones get 401; a peer in a denied
range (loopback other than the media server, RFC 1918, link-local, CGNAT) gets 403 — the relay is never open."""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest
from aioice import stun
from aioice.turn import TurnClientMixin, TurnTransport, create_turn_endpoint

from salon.adapters.janus.process import free_loopback_port
from salon.adapters.turn.config import ManagedTurnConfig
from salon.adapters.turn.process import TURN_BINARY, managed_turn
from salon.domain.turn import turn_credentials
from tests.support.https_proxy import local_ca


def test_coturn_is_installed() -> None:
    # make test installs it (scripts/install-system-deps.sh); a missing coturn is a failure here, never a skip
    assert TURN_BINARY.exists(), f"{TURN_BINARY} is missing: run scripts/install-system-deps.sh"


HOST = "127.0.0.1"
MEDIA_SERVER = "127.0.0.1"  # the one peer the relay may reach (Janus's interface in production)
SECRET = "k" * 64


class _Echo(asyncio.DatagramProtocol):
    """The "media server": echoes every datagram back to its sender."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.transport.sendto(data, addr)


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.received.put_nowait(data)


@pytest.fixture
async def coturn(tmp_path: Path) -> AsyncIterator[int]:
    low = random.randrange(50000, 60000, 100)
    config = ManagedTurnConfig(
        realm="salon.test", secret=SECRET, listen_ip=HOST, port=free_loopback_port(),
        min_port=low, max_port=low + 99, allowed_peers=(MEDIA_SERVER,),
    )  # fmt: skip
    async with managed_turn(config, tmp_path / "turn") as turn:
        yield config.port
    assert turn.process.returncode is not None  # stopped with the block


async def _allocate(port: int, username: str, password: str, transport: str = "udp") -> tuple[TurnTransport, _Inbox]:
    return await asyncio.wait_for(
        create_turn_endpoint(_Inbox, (HOST, port), username, password, transport=transport), 10
    )


def _inner(turn: TurnTransport) -> TurnClientMixin:
    # aioice keeps the TURN client protocol private; the test needs its ChannelBind to probe permissions directly.
    inner = getattr(turn, "_TurnTransport__inner_protocol")  # noqa: B009
    assert isinstance(inner, TurnClientMixin)
    return inner


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_fresh_credentials_relay_to_the_media_server(coturn: int, transport: str) -> None:
    loop = asyncio.get_running_loop()
    echo, _ = await loop.create_datagram_endpoint(_Echo, local_addr=(MEDIA_SERVER, 0))
    creds = turn_credentials(SECRET, "member1", now=int(time.time()), ttl_s=3600)
    turn, inbox = await _allocate(coturn, creds.username, creds.credential, transport)
    try:
        relayed = turn.get_extra_info("sockname")
        assert relayed[0] == HOST
        turn.sendto(b"hello through TURN", echo.get_extra_info("sockname"))
        assert await asyncio.wait_for(inbox.received.get(), 5) == b"hello through TURN"
    finally:
        turn.close()
        echo.close()


async def test_turn_over_tls_allocates_with_fresh_credentials(tmp_path: Path) -> None:
    ca = local_ca(tmp_path, "turn.salon.test")
    tls_port = free_loopback_port()
    config = ManagedTurnConfig(
        realm="salon.test", secret=SECRET, listen_ip=HOST, port=free_loopback_port(), tls_port=tls_port,
        cert=ca.cert, key=ca.key, allowed_peers=(MEDIA_SERVER,),
    )  # fmt: skip
    context = ssl.create_default_context(cafile=str(ca.ca_cert))
    context.check_hostname = False  # dialled by address on loopback; the chain is still verified against the CA
    creds = turn_credentials(SECRET, "member1", now=int(time.time()), ttl_s=3600)
    async with managed_turn(config, tmp_path / "turn"):
        turn, _ = await asyncio.wait_for(
            create_turn_endpoint(_Inbox, (HOST, tls_port), creds.username, creds.credential, ssl=context,
                                 transport="tcp"),
            10,
        )  # fmt: skip
        try:
            assert turn.get_extra_info("sockname")[0] == HOST
        finally:
            turn.close()


@pytest.mark.parametrize("forge", ["expired", "wrong_secret"])
async def test_expired_or_forged_credentials_are_refused_401(coturn: int, forge: str) -> None:
    if forge == "expired":
        creds = turn_credentials(SECRET, "member1", now=int(time.time()) - 3600, ttl_s=60)
    else:
        creds = turn_credentials("z" * 64, "member1", now=int(time.time()), ttl_s=3600)
    with pytest.raises(stun.TransactionFailed) as failed:
        await _allocate(coturn, creds.username, creds.credential)
    assert failed.value.response.attributes["ERROR-CODE"][0] == 401


@pytest.mark.parametrize(
    "peer", ["127.0.0.2", "127.0.0.53", "10.1.2.3", "192.168.1.1", "172.16.0.1", "169.254.169.254", "100.64.0.1"]
)
async def test_a_peer_in_a_denied_range_is_refused_403(coturn: int, peer: str) -> None:
    creds = turn_credentials(SECRET, "member1", now=int(time.time()), ttl_s=3600)
    turn, _ = await _allocate(coturn, creds.username, creds.credential)
    try:
        with pytest.raises(stun.TransactionFailed) as failed:
            await asyncio.wait_for(_inner(turn).channel_bind(0x4000, (peer, 9)), 10)
        assert failed.value.response.attributes["ERROR-CODE"][0] == 403
        # The media server, in the same loopback range, stays reachable through the same allocation.
        await asyncio.wait_for(_inner(turn).channel_bind(0x4001, (MEDIA_SERVER, 9)), 10)
    finally:
        turn.close()


async def test_a_killed_coturn_is_restarted_on_the_same_port(tmp_path: Path) -> None:
    config = ManagedTurnConfig(
        realm="salon.test", secret=SECRET, listen_ip=HOST, port=free_loopback_port(), allowed_peers=(MEDIA_SERVER,),
    )  # fmt: skip
    async with managed_turn(config, tmp_path / "turn") as turn:
        first = turn.process
        first.kill()  # SIGKILL: coturn gets no chance to clean up
        await first.wait()
        creds = turn_credentials(SECRET, "member1", now=int(time.time()), ttl_s=3600)
        async with asyncio.timeout(5):  # a fresh allocation succeeds again within a few seconds
            while True:
                try:
                    relay, _ = await _allocate(config.port, creds.username, creds.credential, "tcp")
                    break
                except (OSError, ConnectionError, TimeoutError, stun.TransactionFailed):
                    await asyncio.sleep(0.1)
        relay.close()
        assert turn.restarts == 1
        assert turn.process.pid != first.pid
    assert turn.process.returncode is not None
