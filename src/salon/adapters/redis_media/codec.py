"""Adapters layer: the media port's arguments, results and refusals as plain JSON, for a call carried to the
instance that drives the room (``routing``). Everything the port takes or gives is JSON already (ids, flags, Jsep
and candidate dicts, counts) except a ``Booth`` (``set_booth``) and a ``StreamGrant``; refusals travel by name."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from salon.app.ports import (
    Booth,
    Jsep,
    MediaFull,
    MediaRefused,
    MediaUnavailable,
    NoBroadcastTier,
    SpeakerMixUnavailable,
    StreamGrant,
)

# The holder no longer drives the room (its lease passed to another instance, or the room ended there): ask again.
NOT_HOLDER = "not_holder"

ERRORS: dict[str, type[Exception]] = {
    "refused": MediaRefused,
    "unavailable": MediaUnavailable,
    "full": MediaFull,
    "speaker_mix_unavailable": SpeakerMixUnavailable,
    "no_broadcast_tier": NoBroadcastTier,
}
_NAMES = {kind: name for name, kind in ERRORS.items()}
REFUSALS: tuple[type[Exception], ...] = tuple(ERRORS.values())


def encode_args(args: list[Any]) -> list[Any]:
    return [{"booth": asdict(a)} if isinstance(a, Booth) else a for a in args]


def decode_args(args: list[Any]) -> list[Any]:
    return [_booth(a["booth"]) if isinstance(a, dict) and set(a) == {"booth"} else a for a in args]


def _booth(data: dict[str, Any]) -> Booth:
    return Booth(
        language=str(data["language"]),
        interpreters=tuple(str(i) for i in data["interpreters"]),
        live=data["live"],
        handover_to=data["handover_to"],
    )


def encode_result(result: object) -> object:
    if isinstance(result, StreamGrant):
        return {"grant": asdict(result)}
    return result


def error_reply(exc: Exception) -> dict[str, Any]:
    """A refusal as the reply's body (``refusal`` raises it again on the caller's side)."""
    return {"error": _NAMES.get(type(exc), "unavailable"), "message": str(exc)}


def refusal(reply: dict[str, Any]) -> Exception:
    return ERRORS.get(str(reply["error"]), MediaUnavailable)(str(reply.get("message", "")))


def jsep(value: object) -> Jsep:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise MediaUnavailable(f"the room's media instance sent no session description: {value!r}")
    return dict(value)


def grant(value: object) -> StreamGrant:
    if isinstance(value, StreamGrant):
        return value
    if isinstance(value, dict) and isinstance(value.get("grant"), dict):
        data = value["grant"]
        return StreamGrant(url=str(data["url"]), expires_at=int(data["expires_at"]))
    raise MediaUnavailable(f"the room's media instance sent no stream grant: {value!r}")


def counts(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        raise MediaUnavailable(f"the room's media instance sent no counts: {value!r}")
    return {str(k): int(v) for k, v in value.items()}
