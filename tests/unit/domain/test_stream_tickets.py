"""Rules of ``salon.domain.stream_tickets``: a ticket verifies only unchanged, on its node, before it expires; its
format is the wire spec's (so another implementation could verify it); anything else is refused with a stable code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable

import pytest

from salon.domain.errors import ErrorCode
from salon.domain.stream_tickets import (
    TICKET_MAX_CHARS,
    StreamTicket,
    TicketRefused,
    control_token,
    sign_ticket,
    verify_ticket,
)

SECRET = "s" * 40
NONCE = "n0nce_with-22-chars-or-more"
EXP = 1_900_000_000


def ticket(**changes: object) -> str:
    fields: dict[str, object] = {"room": "r1", "user": "u1", "conn": "c1", "node": "w0", "expires_at": EXP}
    fields |= {"nonce": NONCE} | changes
    return sign_ticket(SECRET, **fields)  # type: ignore[arg-type]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forged(body: object, secret: str = SECRET) -> str:
    """A ticket signed the way the spec says, around any payload: to reach the checks after the signature."""
    payload = b64(json.dumps(body, separators=(",", ":")).encode())
    key = hmac.new(secret.encode(), b"salon.broadcast.ticket", hashlib.sha256).digest()
    return f"{payload}.{b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())}"


def refusal(call: Callable[[], object]) -> tuple[ErrorCode, str]:
    with pytest.raises(TicketRefused) as exc:
        call()
    return exc.value.code, exc.value.message


def verify(value: object, *, node: str = "w0", now: float = EXP - 10, secret: str = SECRET) -> StreamTicket:
    return verify_ticket(secret, value, node=node, now=now)


GOOD = {"v": 1, "room": "r1", "user": "u1", "conn": "c1", "node": "w0", "exp": EXP, "nonce": NONCE}


def test_a_signed_ticket_verifies_to_its_claims() -> None:
    assert verify(ticket()) == StreamTicket("r1", "u1", "c1", "w0", EXP, NONCE)


def test_the_format_is_the_wire_specs_compact_json_and_hmac() -> None:
    # an independent signer (the spec's recipe) and ours agree byte for byte
    assert ticket() == forged(GOOD)
    payload = ticket().split(".")[0]
    assert base64.urlsafe_b64decode(payload + "==").decode() == (
        '{"v":1,"room":"r1","user":"u1","conn":"c1","node":"w0","exp":1900000000,"nonce":"n0nce_with-22-chars-or-more"}'
    )


def test_the_control_token_is_hex_hmac_of_its_own_label_and_differs_from_the_ticket_key() -> None:
    expected = hmac.new(SECRET.encode(), b"salon.broadcast.control", hashlib.sha256).hexdigest()
    assert control_token(SECRET) == expected
    assert control_token("t" * 40) != expected


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: forged(GOOD | {"room": "r2"}).split(".")[0] + "." + t.split(".")[1],  # payload swapped
        lambda t: t.split(".")[0] + "." + t.split(".")[0],  # signature replaced by the payload
    ],
)
def test_a_changed_ticket_is_refused_as_invalid(tamper: Callable[[str], str]) -> None:
    assert refusal(lambda: verify(tamper(ticket()))) == (
        ErrorCode.TICKET_INVALID,
        "The ticket's signature does not match.",
    )


def test_a_ticket_signed_with_another_secret_is_refused() -> None:
    assert refusal(lambda: verify(ticket(), secret="x" * 40))[0] is ErrorCode.TICKET_INVALID


@pytest.mark.parametrize(
    "value",
    [None, 42, b"abc.def", "", ".", "abc", "abc.", ".abc", "a b.c", "abc.d=f", "a.b.c", "x" * (TICKET_MAX_CHARS + 1)],
)
def test_malformed_tickets_are_refused_before_any_signature_work(value: object) -> None:
    assert refusal(lambda: verify(value)) == (ErrorCode.TICKET_INVALID, "The ticket is malformed.")


def test_an_oversized_ticket_is_refused_even_when_signed() -> None:
    big = forged(GOOD | {"conn": "c" * 900})
    assert len(big) > TICKET_MAX_CHARS
    assert refusal(lambda: verify(big))[0] is ErrorCode.TICKET_INVALID


@pytest.mark.parametrize(
    "body",
    [
        [1, 2],  # not an object
        {k: v for k, v in GOOD.items() if k != "nonce"},  # a field missing
        GOOD | {"extra": 1},  # a field too many
        GOOD | {"room": 7},
        GOOD | {"user": ""},
        GOOD | {"conn": "c/1"},
        GOOD | {"node": "w" * 129},
        GOOD | {"exp": "1900000000"},
        GOOD | {"exp": 1.9e9},
        GOOD | {"exp": True},
        GOOD | {"nonce": "short"},
        GOOD | {"nonce": 12345678901234567890123},
    ],
)
def test_a_signed_payload_of_the_wrong_shape_is_refused(body: object) -> None:
    assert refusal(lambda: verify(forged(body))) == (ErrorCode.TICKET_INVALID, "The ticket is malformed.")


def test_a_signed_payload_that_is_not_json_or_base64_is_refused() -> None:
    key = hmac.new(SECRET.encode(), b"salon.broadcast.ticket", hashlib.sha256).digest()
    for payload in (b64(b"not json"), b64(b"\xff\xfe"), "abcde"):  # "abcde": 5 characters are no base64
        signed = f"{payload}.{b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())}"
        assert refusal(lambda s=signed: verify(s)) == (ErrorCode.TICKET_INVALID, "The ticket is malformed.")  # type: ignore[misc]


@pytest.mark.parametrize("version", [2, 0, "1", True])
def test_another_version_is_refused(version: object) -> None:
    code, message = refusal(lambda: verify(forged(GOOD | {"v": version})))
    assert (code, message) == (ErrorCode.TICKET_INVALID, "The ticket's version is not supported.")


def test_a_ticket_for_another_node_is_refused() -> None:
    assert refusal(lambda: verify(ticket(), node="w1")) == (
        ErrorCode.TICKET_INVALID,
        "The ticket is for another broadcast node.",
    )


def test_a_ticket_expires_at_its_exp() -> None:
    assert verify(ticket(), now=EXP - 0.001).expires_at == EXP
    assert refusal(lambda: verify(ticket(), now=EXP))[0] is ErrorCode.TICKET_EXPIRED
    assert refusal(lambda: verify(ticket(), now=EXP + 3600))[0] is ErrorCode.TICKET_EXPIRED


def test_the_refusal_has_the_one_error_shape() -> None:
    with pytest.raises(TicketRefused) as exc:
        verify(ticket(), now=EXP + 1)
    assert exc.value.to_dict() == {
        "code": "ticket_expired",
        "message": "The ticket has expired; ask for a new one.",
        "data": {},
    }


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"room": ""}, "room must be an id"),
        ({"user": "a b"}, "user must be an id"),
        ({"conn": "c" * 129}, "conn must be an id"),
        ({"node": 3}, "node must be an id"),
        ({"expires_at": 0}, "expires_at must be a positive int"),
        ({"expires_at": 1.5}, "expires_at must be a positive int"),
        ({"expires_at": True}, "expires_at must be a positive int"),
        ({"nonce": "too-short"}, "nonce must be 22 to 128"),
        ({"nonce": None}, "nonce must be 22 to 128"),
    ],
)
def test_signing_bad_claims_is_a_callers_bug(changes: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        ticket(**changes)
