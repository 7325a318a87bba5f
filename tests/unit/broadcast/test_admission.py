"""``salon.broadcast.admission``: the refusals in the spec's order, single use, and the listener budget."""

from __future__ import annotations

import asyncio
import secrets
from typing import cast

import pytest

from salon.broadcast.admission import Admission, UsedNonces
from salon.broadcast.http import HttpError
from salon.broadcast.node import Node
from salon.domain.audience_chunks import parse_policy
from salon.domain.stream_tickets import sign_ticket
from tests.support.broadcast import FakeLoop, FakeTransport

SECRET = "k" * 40
NOW = 1_800_000_000.0


def ticket(room: str = "r1", user: str = "u1", *, node: str = "w0", exp: float = NOW + 30, nonce: str = "") -> str:
    nonce = nonce or secrets.token_urlsafe(16)
    return sign_ticket(SECRET, room=room, user=user, conn="c1", node=node, expires_at=int(exp), nonce=nonce)


def tampered(text: str) -> str:
    """The ticket with the signature's first character changed (the last one may carry unused bits)."""
    payload, signature = text.split(".")
    return f"{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


@pytest.fixture
def admission() -> Admission:
    node = Node(
        cast(asyncio.AbstractEventLoop, FakeLoop()),
        name="w0",
        policy=parse_policy("inf:20"),
        max_listeners=1,
        max_buffer_bytes=1000,
        allow_origin="*",
    )
    node.put_room("r1", 1)
    node.put_room("r2", 2)
    return Admission(SECRET, node)


def refusal(admission: Admission, room: str, query: dict[str, str]) -> tuple[int, str]:
    with pytest.raises(HttpError) as exc:
        admission.admit(room, query, now=NOW)
    return exc.value.status, exc.value.code


def test_a_good_ticket_opens_its_room(admission: Admission) -> None:
    room, claims = admission.admit("r1", {"ticket": ticket()}, now=NOW)
    assert (room.room_id, claims.user) == ("r1", "u1")


@pytest.mark.parametrize(
    ("room", "query", "expected"),
    [
        ("r1", {}, (400, "invalid_input")),
        ("r1", {"ticket": ""}, (400, "invalid_input")),
        ("r1", {"ticket": "garbage"}, (401, "ticket_invalid")),
        ("r1", {"ticket": tampered(ticket())}, (401, "ticket_invalid")),
        ("r1", {"ticket": ticket(node="w1")}, (401, "ticket_invalid")),
        ("r1", {"ticket": ticket(exp=NOW)}, (401, "ticket_expired")),
        ("r1", {"ticket": ticket("r2")}, (403, "ticket_wrong_room")),
        ("r9", {"ticket": ticket("r9")}, (404, "not_found")),
    ],
)
def test_refusals(admission: Admission, room: str, query: dict[str, str], expected: tuple[int, str]) -> None:
    assert refusal(admission, room, query) == expected


def test_a_ticket_opens_one_stream_only(admission: Admission) -> None:
    text = ticket()
    admission.admit("r1", {"ticket": text}, now=NOW)
    assert refusal(admission, "r1", {"ticket": text}) == (409, "ticket_used")


def test_a_refused_ticket_is_not_spent(admission: Admission) -> None:
    text = ticket("r9")
    assert refusal(admission, "r9", {"ticket": text}) == (404, "not_found")
    admission.node.put_room("r9", 9)  # the room is registered a moment later
    assert admission.admit("r9", {"ticket": text}, now=NOW)[0].room_id == "r9"


def test_a_full_node_refuses_newcomers_but_not_a_member_replacing_their_stream(admission: Admission) -> None:
    room, _ = admission.admit("r1", {"ticket": ticket(user="u1")}, now=NOW)
    admission.node.open_stream(room, "u1", cast(asyncio.Transport, FakeTransport()))
    assert refusal(admission, "r1", {"ticket": ticket(user="u2")}) == (503, "room_full")
    assert admission.admit("r1", {"ticket": ticket(user="u1")}, now=NOW)[1].user == "u1"


def test_used_nonces_are_forgotten_once_their_tickets_expire() -> None:
    used = UsedNonces()
    used.spend("a", 100)
    used.spend("b", 200)
    used.forget_expired(150)
    assert ("a" in used, "b" in used, len(used)) == (False, True, 1)
