"""Adapters layer: the Janus API's message shapes, errors and event subscriptions, for the transport and plugins."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Final, NotRequired, TypedDict

from salon.app.ports import MediaUnavailable
from salon.app.request_ids import current_request_id

log = logging.getLogger(__name__)

# Core error codes (janus apierror.h). Plugins have their own code spaces that overlap these (the Streaming
# plugin's 458 means "can't switch"), so only a top-level error is read as a core code.
UNAUTHORIZED: Final = 403
SESSION_NOT_FOUND: Final = 458
HANDLE_NOT_FOUND: Final = 459


class JanusException(Exception):
    """Base of every failure this client raises."""


class JanusError(JanusException):
    """Janus refused a request: a core error (``plugin`` is None) or a plugin's ``error_code``."""

    def __init__(self, code: int, reason: str, *, plugin: str | None = None) -> None:
        where = f" ({plugin})" if plugin else ""
        super().__init__(f"Janus error {code}{where}: {reason}")
        self.code = code
        self.reason = reason
        self.plugin = plugin


class JanusUnavailable(JanusException, MediaUnavailable):
    """Janus could not be reached, or answered something that is not its API: treat the media plane as down."""


class JanusSessionLost(JanusUnavailable):
    """Janus no longer knows the session: it restarted, or the session timed out. Everything on it is gone."""


class JanusTimeout(JanusUnavailable):
    """No answer within the time allowed."""


class Jsep(TypedDict):
    type: str
    sdp: str
    trickle: NotRequired[bool]


@dataclass(frozen=True)
class PluginReply:
    """A plugin's answer: ``plugindata.data`` and, when it negotiates media, a JSEP offer or answer."""

    data: dict[str, Any]
    jsep: Jsep | None = None


@dataclass(frozen=True)
class JanusEvent:
    """One message from the long poll that no request was waiting for."""

    kind: str  # the "janus" field: event, webrtcup, media, slowlink, hangup, detached, trickle…
    sender: int | None  # the handle it concerns
    plugin: str | None
    data: dict[str, Any]  # plugindata.data for plugin events, else {}
    jsep: Jsep | None
    raw: dict[str, Any]

    @classmethod
    def parse(cls, message: dict[str, Any]) -> JanusEvent:
        plugindata = message.get("plugindata")
        plugindata = plugindata if isinstance(plugindata, dict) else {}
        sender = message.get("sender")
        data = plugindata.get("data")
        return cls(
            kind=str(message.get("janus", "")),
            sender=sender if isinstance(sender, int) else None,
            plugin=plugindata.get("plugin"),
            data=data if isinstance(data, dict) else {},
            jsep=message.get("jsep"),
            raw=message,
        )


class End:
    """The end of a subscription: ``error`` None after an orderly close."""

    def __init__(self, error: JanusException | None) -> None:
        self.error = error


class Subscription:
    """The events of one handle (or of the whole session), in order. Iterating ends when the session is closed, and
    raises :class:`JanusSessionLost` / :class:`JanusUnavailable` when it is lost. A consumer that falls more than
    ``maxsize`` events behind loses the oldest (counted in ``dropped``): the poll never waits for a consumer."""

    def __init__(self, handle_id: int | None, maxsize: int, on_close: Callable[[Subscription], None]) -> None:
        self.handle_id = handle_id
        self.dropped = 0
        self._on_close = on_close
        self._queue: asyncio.Queue[JanusEvent | End] = asyncio.Queue(maxsize=maxsize)
        self._end: End | None = None

    def __aiter__(self) -> AsyncIterator[JanusEvent]:
        return self

    async def __anext__(self) -> JanusEvent:
        if self._end is None:
            item = await self._queue.get()
            if isinstance(item, JanusEvent):
                return item
            self._end = item
        if self._end.error is not None:
            raise self._end.error
        raise StopAsyncIteration

    def close(self) -> None:
        self._on_close(self)
        self.put(End(None))

    def put(self, item: JanusEvent | End) -> None:
        """Deliver an event, or the end of the stream (never blocks: drops the oldest when full)."""
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
            log.warning("janus: a subscriber fell behind; dropped its oldest event (%d so far)", self.dropped)
        self._queue.put_nowait(item)


def new_transaction() -> str:
    """A fresh transaction id, led by the request id being served (``<request id>/<random>``) when there is one:
    Janus echoes the transaction in its answer and events and names it in its logs, so a Janus log line or event
    leads back to the HTTP request or WebSocket op that caused it. A request id never holds "/" (app/request_ids.py),
    nor does the random part (URL-safe base64)."""
    token = secrets.token_urlsafe(12)
    request_id = current_request_id()
    return f"{request_id}/{token}" if request_id else token


def raise_for_error(message: dict[str, Any]) -> None:
    """Raise the error a Janus message carries, if any: core errors first, then a plugin's ``error_code``."""
    if message.get("janus") == "error":
        error = message.get("error")
        error = error if isinstance(error, dict) else {}
        code = _as_int(error.get("code"))
        reason = str(error.get("reason", ""))
        if code == SESSION_NOT_FOUND:
            raise JanusSessionLost(f"Janus error {code}: {reason}")
        raise JanusError(code, reason)
    plugindata = message.get("plugindata")
    if isinstance(plugindata, dict):
        data = plugindata.get("data")
        if isinstance(data, dict) and "error_code" in data:
            raise JanusError(_as_int(data["error_code"]), str(data.get("error", "")), plugin=plugindata.get("plugin"))


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def plugin_reply(message: dict[str, Any]) -> PluginReply:
    """The plugin's answer in a ``success`` or ``event`` message, or the error it carries."""
    raise_for_error(message)
    plugindata = message.get("plugindata")
    data = plugindata.get("data") if isinstance(plugindata, dict) else None
    if not isinstance(data, dict):
        raise JanusUnavailable(f"a plugin reply without plugindata: {message.get('janus')!r}")
    return PluginReply(data=data, jsep=message.get("jsep"))


def created_id(message: dict[str, Any]) -> int:
    """The new session or handle id in the answer to ``create`` / ``attach``."""
    data = message.get("data")
    ident = data.get("id") if isinstance(data, dict) else None
    if message.get("janus") != "success" or not isinstance(ident, int):
        raise JanusUnavailable(f"unexpected answer to create/attach: {message.get('janus')!r}")
    return ident
