"""Domain layer: the tickets that let a member open a broadcast stream, and the broadcast node's control token.

Salon signs a ticket when a member asks to listen; the broadcast node (``salon.broadcast``) verifies it with the
same secret and never asks Salon anything. A ticket is ``<payload>.<signature>``: the payload is base64url (no
padding) of compact JSON ``{"v":1,"room","user","conn","node","exp","nonce"}``, the signature base64url of
HMAC-SHA256 over the payload's text, keyed by a key derived from the shared secret for this one purpose (so a
ticket can never pass for the control token, or the reverse). Pure: time is passed in; which room the ticket is
used for, and whether its nonce was used already, are the node's to check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from salon.domain.errors import DomainError, ErrorCode
from salon.domain.text import is_id

TICKET_VERSION = 1
TICKET_LIFETIME_S = 30  # to start a stream: a started stream lives until it is cut
TICKET_MAX_CHARS = 1024  # far above a real ticket (~300); the node reads no more
SECRET_MIN_CHARS = 32
FIELD_MAX_CHARS = 128  # room, user, conn and node ids
_TICKET_LABEL = b"salon.broadcast.ticket"
_CONTROL_LABEL = b"salon.broadcast.control"
_FIELDS = ("v", "room", "user", "conn", "node", "exp", "nonce")
# >= 128 random bits in base64url (22 characters carry 132); longer nonces are fine up to the field limit.
_NONCE_RE = re.compile(r"[A-Za-z0-9_-]{22,128}")
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class StreamTicket:
    """What a verified ticket says: who may listen to which room, through which node, until when (unix seconds)."""

    room: str
    user: str
    conn: str
    node: str
    expires_at: int
    nonce: str


class TicketRefused(DomainError):
    """A ticket the node must refuse: ``ticket_invalid`` (format, signature, another node) or ``ticket_expired``."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(code, message)


def _derived_key(secret: str, label: bytes) -> bytes:
    return hmac.new(secret.encode(), label, hashlib.sha256).digest()


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _signature(secret: str, payload: str) -> str:
    return _b64url(hmac.new(_derived_key(secret, _TICKET_LABEL), payload.encode("ascii"), hashlib.sha256).digest())


def _is_field(value: object) -> bool:
    return isinstance(value, str) and len(value) <= FIELD_MAX_CHARS and is_id(value)


def _is_nonce(value: object) -> bool:
    return isinstance(value, str) and _NONCE_RE.fullmatch(value) is not None


def sign_ticket(secret: str, *, room: str, user: str, conn: str, node: str, expires_at: int, nonce: str) -> str:
    """The ticket for ``user`` (connection ``conn``) to open one stream of ``room`` on ``node`` before
    ``expires_at``. ``nonce`` must be fresh randomness (``secrets.token_urlsafe(16)`` or more). A bad argument is a
    caller's bug: ``ValueError``."""
    for name, value in (("room", room), ("user", user), ("conn", conn), ("node", node)):
        if not _is_field(value):
            raise ValueError(f"{name} must be an id of at most {FIELD_MAX_CHARS} characters")
    if type(expires_at) is not int or expires_at <= 0:
        raise ValueError("expires_at must be a positive int (unix seconds)")
    if not _is_nonce(nonce):
        raise ValueError("nonce must be 22 to 128 base64url characters (at least 128 random bits)")
    body = {"v": TICKET_VERSION, "room": room, "user": user, "conn": conn, "node": node}
    body |= {"exp": expires_at, "nonce": nonce}
    payload = _b64url(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_signature(secret, payload)}"


def _invalid(message: str) -> TicketRefused:
    return TicketRefused(ErrorCode.TICKET_INVALID, message)


def _decode_payload(payload: str) -> dict[str, Any]:
    try:
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise _invalid("The ticket is malformed.") from exc
    if not isinstance(body, dict) or body.keys() != set(_FIELDS):
        raise _invalid("The ticket is malformed.")
    return body


def verify_ticket(secret: str, ticket: object, *, node: str, now: float) -> StreamTicket:
    """The ticket's claims once its signature, shape, node and lifetime are checked; :class:`TicketRefused`
    otherwise. The signature is compared in constant time and checked before anything in the payload is read."""
    if not isinstance(ticket, str) or len(ticket) > TICKET_MAX_CHARS:
        raise _invalid("The ticket is malformed.")
    payload, dot, signature = ticket.partition(".")
    if not dot or _B64URL_RE.fullmatch(payload) is None or _B64URL_RE.fullmatch(signature) is None:
        raise _invalid("The ticket is malformed.")
    if not hmac.compare_digest(_signature(secret, payload), signature):
        raise _invalid("The ticket's signature does not match.")
    body = _decode_payload(payload)
    version, exp = body["v"], body["exp"]
    if type(version) is not int or version != TICKET_VERSION:
        raise _invalid("The ticket's version is not supported.")
    if not all(_is_field(body[name]) for name in ("room", "user", "conn", "node")):
        raise _invalid("The ticket is malformed.")
    if type(exp) is not int or not _is_nonce(body["nonce"]):
        raise _invalid("The ticket is malformed.")
    if body["node"] != node:
        raise _invalid("The ticket is for another broadcast node.")
    if now >= exp:
        raise TicketRefused(ErrorCode.TICKET_EXPIRED, "The ticket has expired; ask for a new one.")
    return StreamTicket(body["room"], body["user"], body["conn"], body["node"], exp, body["nonce"])


def control_token(secret: str) -> str:
    """The bearer token of the node's control API: hex of HMAC-SHA256(secret, "salon.broadcast.control")."""
    return hmac.new(secret.encode(), _CONTROL_LABEL, hashlib.sha256).hexdigest()
