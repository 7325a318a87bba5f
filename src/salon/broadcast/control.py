"""Broadcast layer: the control API, on its own port (127.0.0.1 by default; never public) — Salon registers rooms,
ends them, cuts members' streams and reads the node's numbers. Every call carries the bearer token derived from
the shared secret; bodies are JSON objects with exactly the fields below, answered in JSON or the error shape.

- ``PUT /v1/rooms/{room_id}`` ``{"ssrc": 1..2^32-1, "srtp": {"suite": "AES_CM_128_HMAC_SHA1_80", "key": "<base64
  of 30 bytes>"}}``: RTP with this SSRC feeds the room (409 ``conflict`` if another room has it); with ``srtp`` (what
  Salon always sends) only SRTP that authenticates with that key does, without it plain RTP (the bench's sender).
  A PUT replaces the room's key and starts a fresh SRTP session.
- ``DELETE /v1/rooms/{room_id}?reason=room_ended``: every stream of the room ends with that notice; the room is
  forgotten. Idempotent: an unknown room answers 200 with ``"ended": 0``, as recovery replays expect.
- ``POST /v1/rooms/{room_id}/cut`` ``{"user_ids": [...], "reason": "removed"}``: ``{"cut": n}``.
- ``GET /v1/stats``.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any, Final, cast

from salon.broadcast.http import HttpError, Request, RequestProtocol, json_response
from salon.broadcast.node import Node
from salon.broadcast.records import NoticeCode
from salon.broadcast.srtp import inbound
from salon.domain.errors import ErrorCode
from salon.domain.forward_keys import ForwardKey, parse_forward_key
from salon.domain.stream_tickets import FIELD_MAX_CHARS
from salon.domain.text import is_id

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 256 * 1024  # a cut of a few thousand members fits
MAX_CUT_USERS: Final = 10_000
MAX_SSRC: Final = 2**32 - 1
# The reasons Salon gives; "replaced" and "too_slow" are the node's own. "shutting_down" is both: the node's on
# SIGTERM, and Salon's when it stops while a room stays live (its listeners reconnect, as after a node restart).
CONTROL_REASONS: Final[frozenset[str]] = frozenset({"removed", "room_ended", "on_stage", "shutting_down"})
ROOMS_PREFIX: Final = "/v1/rooms/"


def _bad(message: str) -> HttpError:
    return HttpError(400, ErrorCode.INVALID_INPUT, message)


def _is_field(value: object) -> bool:
    return isinstance(value, str) and len(value) <= FIELD_MAX_CHARS and is_id(value)


def _reason(value: object) -> NoticeCode:
    if not isinstance(value, str) or value not in CONTROL_REASONS:
        raise _bad(f"reason must be one of {', '.join(sorted(CONTROL_REASONS))}.")
    return cast(NoticeCode, value)


def json_object(request: Request, fields: set[str], optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The body as a JSON object with exactly ``fields`` and any of ``optional``; ``HttpError`` otherwise."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise HttpError(415, ErrorCode.UNSUPPORTED_MEDIA, "The body must be application/json.")
    try:
        body = json.loads(request.body)
    except ValueError as exc:
        raise _bad("The body is not valid JSON.") from exc
    if not isinstance(body, dict) or body.keys() - optional != fields:
        also = f" (and optionally {', '.join(sorted(optional))})" if optional else ""
        raise _bad(f"The body must be a JSON object with exactly: {', '.join(sorted(fields))}{also}.")
    return body


def route(path: str) -> tuple[str, str | None]:
    """``(endpoint, room_id)`` for a control path: endpoint ``stats``, ``room``, ``cut`` or ``unknown``."""
    if path == "/v1/stats":
        return "stats", None
    if not path.startswith(ROOMS_PREFIX):
        return "unknown", None
    room_id, slash, rest = path[len(ROOMS_PREFIX) :].partition("/")
    endpoint = "room" if not slash else "cut" if rest == "cut" else "unknown"
    if endpoint != "unknown" and not _is_field(room_id):
        raise _bad("The room id in the path is malformed.")
    return endpoint, room_id


METHODS: Final = {"stats": "GET", "room": "PUT, DELETE", "cut": "POST"}


class ControlProtocol(RequestProtocol):
    """One control call per connection."""

    max_body = MAX_BODY_BYTES

    def __init__(self, node: Node, token: str) -> None:
        super().__init__()
        self.node = node
        self._token = token.encode()

    def handle(self, request: Request) -> None:
        try:
            self.send_and_close(json_response(200, self._answer(request)))
        except HttpError as error:
            self.refuse(error)

    def _authorised(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self._token)

    def _answer(self, request: Request) -> dict[str, Any]:
        if not self._authorised(request):
            challenge = [("WWW-Authenticate", "Bearer")]
            raise HttpError(401, ErrorCode.NOT_AUTHENTICATED, "The control API needs its bearer token.", challenge)
        endpoint, room_id = route(request.path)
        if endpoint == "unknown":
            raise HttpError(404, ErrorCode.NOT_FOUND, "There is nothing at this path.")
        if request.method not in METHODS[endpoint].split(", "):
            allow = [("Allow", METHODS[endpoint])]
            raise HttpError(405, ErrorCode.NOT_ALLOWED, f"{request.method} is not served here.", allow)
        if room_id is None:
            return self.node.stats()
        if endpoint == "cut":
            return self._cut(room_id, json_object(request, {"user_ids", "reason"}))
        if request.method == "PUT":
            return self._put(room_id, json_object(request, {"ssrc"}, frozenset({"srtp"})))
        return self._delete(room_id, request)

    def _put(self, room_id: str, body: dict[str, Any]) -> dict[str, Any]:
        ssrc = body["ssrc"]
        if type(ssrc) is not int or not 1 <= ssrc <= MAX_SSRC:
            raise _bad(f"ssrc must be an integer from 1 to {MAX_SSRC}.")
        key: ForwardKey | None = None
        if "srtp" in body:
            try:
                key = parse_forward_key(body["srtp"])
            except ValueError as exc:
                raise _bad(str(exc)) from None
        if not self.node.put_room(room_id, ssrc, None if key is None else inbound(key)):
            raise HttpError(409, ErrorCode.CONFLICT, "Another room is fed by this SSRC.")
        log.info("room %s fed by SSRC %d (%s)", room_id, ssrc, "plain RTP" if key is None else key.suite)
        return {"room_id": room_id, "ssrc": ssrc, "srtp": key is not None}

    def _delete(self, room_id: str, request: Request) -> dict[str, Any]:
        if request.body:
            raise _bad("DELETE takes no body.")
        unknown = request.query.keys() - {"reason"}
        if unknown:
            raise _bad(f"Unknown query parameter: {', '.join(sorted(unknown))}.")
        reason = _reason(request.query.get("reason", "room_ended"))
        ended = self.node.delete_room(room_id, reason)
        log.info("room %s deleted (%s): %d streams ended", room_id, reason, ended)
        return {"room_id": room_id, "ended": ended}

    def _cut(self, room_id: str, body: dict[str, Any]) -> dict[str, Any]:
        user_ids = body["user_ids"]
        if not isinstance(user_ids, list) or len(user_ids) > MAX_CUT_USERS or not all(map(_is_field, user_ids)):
            raise _bad(f"user_ids must be a list of at most {MAX_CUT_USERS} member ids.")
        reason = _reason(body["reason"])
        cut = self.node.cut(room_id, user_ids, reason)
        log.info("room %s: %d of %d members cut (%s)", room_id, cut, len(user_ids), reason)
        return {"cut": cut}
