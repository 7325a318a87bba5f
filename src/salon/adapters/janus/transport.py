"""Adapters layer: a typed asyncio client for the Janus gateway's HTTP API — sessions, handles, the long poll.

Janus answers a request to a plugin either at once (``"janus": "success"`` carrying the plugin's reply) or with an
``ack``, the real answer following later as an ``event`` with the same ``transaction`` on the session's long poll
(``GET /janus/<session>``). Each session runs two tasks: the long poll, which hands transaction replies to the request
waiting for them and every other event (``talking``, ``hangup``, ``webrtcup``, ``media``, ``detached``…) to
subscribers, and a keepalive. When Janus forgets the session (error 458, a ``timeout`` event: it restarted, or the
session expired) or stops answering the long poll, the session ends: waiting and later requests and its subscribers
get :class:`JanusSessionLost` / :class:`JanusUnavailable`, and the app rebuilds its media state on a new session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from types import TracebackType
from typing import Any, Final, cast

import httpx
import orjson

from salon.adapters.janus.api import (
    UNAUTHORIZED,
    End,
    JanusError,
    JanusEvent,
    JanusException,
    JanusSessionLost,
    JanusTimeout,
    JanusUnavailable,
    Jsep,
    PluginReply,
    Subscription,
    created_id,
    new_transaction,
    plugin_reply,
    raise_for_error,
)
from salon.app.ports import Clock
from salon.app.request_ids import without_request_id
from salon.app.system import SystemClock

__all__ = [
    "JanusError",
    "JanusEvent",
    "JanusException",
    "JanusHandle",
    "JanusSession",
    "JanusSessionLost",
    "JanusTimeout",
    "JanusTransport",
    "JanusUnavailable",
    "Jsep",
    "PluginReply",
    "Subscription",
]

log = logging.getLogger(__name__)

# Janus holds a long poll for 30 s before answering "keepalive"; the read timeout must outlast that.
POLL_HOLD_SECONDS: Final = 30.0


class JanusTransport:
    """The HTTP side: one ``httpx.AsyncClient``, the API secret, request/response framing and error mapping.

    ``url`` is the API root, e.g. ``http://127.0.0.1:8088/janus``.
    """

    def __init__(
        self,
        url: str,
        *,
        api_secret: str | None = None,
        client: httpx.AsyncClient | None = None,
        request_timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.request_timeout = request_timeout
        self._api_secret = api_secret
        self._owns_client = client is None
        # trust_env=False: a proxy from the environment must never carry the API secret off the machine.
        self._client = client or httpx.AsyncClient(timeout=request_timeout, trust_env=False)
        self._sessions: set[JanusSession] = set()

    async def __aenter__(self) -> JanusTransport:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop every session's tasks (without telling Janus: use ``destroy`` for that) and close the client."""
        for session in list(self._sessions):
            await session.aclose()
        if self._owns_client:
            await self._client.aclose()

    async def info(self) -> dict[str, Any]:
        """``GET /janus/info``: version, plugins and transports; a cheap liveness check."""
        message = await self._send("GET", f"{self.url}/info", params=self._secret_params())
        if not isinstance(message, dict):
            raise JanusUnavailable("info is not a JSON object")
        raise_for_error(message)
        return message

    async def create_session(
        self,
        *,
        keepalive_interval: float = 25.0,
        event_timeout: float = 10.0,
        maxev: int = 10,
        poll_failures: int = 3,
        queue_size: int = 1000,
        clock: Clock | None = None,
    ) -> JanusSession:
        """Create a session and start its long poll and keepalive (every ``keepalive_interval`` s of ``clock``, the
        system's unless a test passes a fake one; Janus's ``session_timeout`` is 60 s). ``event_timeout`` bounds the
        wait for an asynchronous plugin answer."""
        session_id = created_id(await self.post(self.url, {"janus": "create"}))
        session = JanusSession(
            self,
            session_id,
            keepalive_interval=keepalive_interval,
            event_timeout=event_timeout,
            maxev=maxev,
            poll_failures=poll_failures,
            queue_size=queue_size,
            clock=clock if clock is not None else SystemClock(),
        )
        self._sessions.add(session)
        session._start()
        return session

    async def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST one Janus request (a transaction id is added unless present); raise the error it is answered with."""
        payload = {"transaction": new_transaction(), **body}
        if self._api_secret is not None:
            payload["apisecret"] = self._api_secret
        message = await self._send("POST", url, content=orjson.dumps(payload))
        if not isinstance(message, dict):
            raise JanusUnavailable(f"{payload.get('janus')} answered with a JSON {type(message).__name__}")
        raise_for_error(message)
        return message

    async def poll(self, session_url: str, maxev: int) -> list[dict[str, Any]]:
        """One long poll: up to ``maxev`` messages, or a single ``keepalive`` after Janus's 30 s hold."""
        params = {"maxev": maxev, "rid": int(time.time() * 1000), **self._secret_params()}
        hold = httpx.Timeout(self.request_timeout, read=POLL_HOLD_SECONDS + self.request_timeout)
        # Janus 1.1.2 answers a long poll for a session it does not know with a bare HTTP 404, not a 458 object.
        answer = await self._send("GET", session_url, params=params, http_timeout=hold, missing=JanusSessionLost)
        messages = answer if isinstance(answer, list) else [answer]
        if not all(isinstance(m, dict) for m in messages):
            raise JanusUnavailable("the long poll answered something other than JSON objects")
        return cast(list[dict[str, Any]], messages)

    def _secret_params(self) -> dict[str, str]:
        return {"apisecret": self._api_secret} if self._api_secret is not None else {}

    async def _send(
        self,
        method: str,
        url: str,
        *,
        http_timeout: httpx.Timeout | None = None,
        missing: type[JanusUnavailable] = JanusUnavailable,
        **kw: Any,
    ) -> Any:
        what = f"{method} {httpx.URL(url).path}"
        try:
            response = await self._client.request(method, url, timeout=http_timeout or self.request_timeout, **kw)
        except httpx.TimeoutException as exc:
            raise JanusTimeout(f"{what}: no answer in time ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise JanusUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            answer = None
        # Janus sends its error objects with non-2xx statuses too: read them when they are there.
        if (isinstance(answer, dict) and "janus" in answer) or (isinstance(answer, list) and response.is_success):
            return answer
        if response.status_code == httpx.codes.FORBIDDEN:
            raise JanusError(UNAUTHORIZED, f"{what}: HTTP 403 (wrong or missing API secret)")
        if response.status_code == httpx.codes.NOT_FOUND:
            raise missing(f"{what}: HTTP 404")
        raise JanusUnavailable(f"{what}: HTTP {response.status_code}, not a Janus answer")

    def _forget(self, session: JanusSession) -> None:
        self._sessions.discard(session)


class JanusSession:
    """A Janus session: attach handles, send them messages, receive their events. Made by
    :meth:`JanusTransport.create_session`; end it with :meth:`destroy` (tells Janus) or :meth:`aclose` (local)."""

    def __init__(
        self,
        transport: JanusTransport,
        session_id: int,
        *,
        keepalive_interval: float,
        event_timeout: float,
        maxev: int,
        poll_failures: int,
        queue_size: int,
        clock: Clock,
    ) -> None:
        self.id = session_id
        self.url = f"{transport.url}/{session_id}"
        self._transport = transport
        self._keepalive_interval = keepalive_interval
        self._event_timeout = event_timeout
        self._maxev = maxev
        self._poll_failures = poll_failures
        self._queue_size = queue_size
        self._clock = clock
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._subscriptions: list[Subscription] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._ended = asyncio.Event()
        self._end_error: JanusException | None = None

    async def __aenter__(self) -> JanusSession:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.destroy()

    @property
    def closed(self) -> bool:
        return self._ended.is_set()

    @property
    def lost(self) -> JanusException | None:
        """Why the session ended, when it was not closed by us; None while it lives or after an orderly close."""
        return self._end_error

    async def wait_closed(self) -> JanusException | None:
        """Wait for the session to end; return why it was lost (None for an orderly close)."""
        await self._ended.wait()
        return self._end_error

    async def attach(self, plugin: str, *, opaque_id: str | None = None) -> JanusHandle:
        body: dict[str, Any] = {"janus": "attach", "plugin": plugin}
        if opaque_id is not None:
            body["opaque_id"] = opaque_id
        handle_id = created_id(await self._post(self.url, body))
        return JanusHandle(self, handle_id, plugin)

    def subscribe(self, handle_id: int | None = None, *, maxsize: int | None = None) -> Subscription:
        """Events for one handle, or (``handle_id`` None) every event of the session."""
        subscription = Subscription(handle_id, maxsize or self._queue_size, self._unsubscribe)
        if self.closed:
            subscription.put(End(self._end_error))
        else:
            self._subscriptions.append(subscription)
        return subscription

    async def keepalive(self) -> None:
        await self._post(self.url, {"janus": "keepalive"})

    async def destroy(self) -> None:
        """Ask Janus to destroy the session (and its handles), then stop locally. Best effort: a Janus that is gone
        has nothing left to destroy."""
        if not self.closed:
            try:
                await self._post(self.url, {"janus": "destroy"})
            except JanusException as exc:
                log.info("janus: destroying session %s: %s", self.id, exc)
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the long poll and keepalive, fail waiting requests, end subscriptions. Janus is not told."""
        self._end(None)
        others = [task for task in self._tasks if task is not asyncio.current_task()]
        await asyncio.gather(*others, return_exceptions=True)

    async def message(self, handle_id: int, body: dict[str, Any], jsep: Jsep | None = None) -> PluginReply:
        """Send ``body`` (and ``jsep``) to a handle's plugin; return its answer, synchronous or asynchronous.

        An asynchronous answer is awaited for ``event_timeout`` s at most; wrap the call in ``asyncio.timeout`` for
        a shorter deadline (cancelling is safe: a late answer is then handed to subscribers)."""
        transaction = new_transaction()
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        # Registered before sending: the answer may reach the long poll before the "ack" reaches us.
        self._waiters[transaction] = waiter
        request: dict[str, Any] = {"janus": "message", "transaction": transaction, "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        try:
            answer = await self._post(f"{self.url}/{handle_id}", request)
            if answer.get("janus") == "success":
                return plugin_reply(answer)
            if answer.get("janus") != "ack":
                raise JanusUnavailable(f"unexpected answer to a message: {answer.get('janus')!r}")
            try:
                event = await asyncio.wait_for(waiter, self._event_timeout)
            except TimeoutError:
                what = f"{body.get('request')!r} (transaction {transaction})"  # Janus's log names the transaction
                raise JanusTimeout(f"no answer to {what} in {self._event_timeout} s") from None
            return plugin_reply(event)
        finally:
            self._waiters.pop(transaction, None)
            if waiter.done() and not waiter.cancelled():
                waiter.exception()  # mark it retrieved: the request may have failed before awaiting it
            waiter.cancel()

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.closed:
            if self._end_error is not None:
                raise type(self._end_error)(str(self._end_error))
            raise JanusUnavailable(f"session {self.id} is closed")
        try:
            return await self._transport.post(url, body)
        except JanusSessionLost as exc:
            self._end(exc)
            raise

    def _start(self) -> None:
        # The session outlives the request that may have opened it: its keepalives and its log lines name none.
        self._tasks = [
            asyncio.create_task(self._poll_loop(), name=f"janus-poll-{self.id}", context=without_request_id()),
            asyncio.create_task(
                self._keepalive_loop(), name=f"janus-keepalive-{self.id}", context=without_request_id()
            ),
        ]

    async def _poll_loop(self) -> None:
        failures = 0
        while not self.closed:
            try:
                messages = await self._transport.poll(self.url, self._maxev)
            except JanusUnavailable as exc:
                failures += 1
                if isinstance(exc, JanusSessionLost) or failures >= self._poll_failures:
                    self._end(exc if isinstance(exc, JanusSessionLost) else JanusUnavailable(f"long poll: {exc}"))
                    return
                log.warning("janus: long poll of session %s failed (%s); retrying", self.id, exc)
                await asyncio.sleep(min(0.2 * 2**failures, 2.0))
                continue
            except JanusError as exc:
                self._end(JanusUnavailable(f"long poll refused: {exc}"))
                return
            failures = 0
            for message in messages:
                self._dispatch(message)

    async def _keepalive_loop(self) -> None:
        while not self.closed:
            await self._clock.sleep(self._keepalive_interval)
            try:
                await self.keepalive()
            except JanusSessionLost:
                return
            except JanusException as exc:
                # The long poll decides whether Janus is gone; a missed keepalive alone is not fatal.
                log.warning("janus: keepalive of session %s failed: %s", self.id, exc)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("janus")
        if kind in ("keepalive", "ack"):
            return
        if kind == "timeout":
            self._end(JanusSessionLost(f"session {self.id} timed out in Janus"))
            return
        transaction = message.get("transaction")
        waiter = self._waiters.get(transaction) if isinstance(transaction, str) else None
        if waiter is not None and not waiter.done():
            waiter.set_result(message)
            return
        if kind == "error":
            try:
                raise_for_error(message)
            except JanusSessionLost as exc:
                self._end(exc)
                return
            except JanusError as exc:
                log.warning("janus: unsolicited error on session %s: %s", self.id, exc)
                return
        event = JanusEvent.parse(message)
        for subscription in self._subscriptions:
            if subscription.handle_id is None or subscription.handle_id == event.sender:
                subscription.put(event)

    def _end(self, error: JanusException | None) -> None:
        if self._ended.is_set():
            return
        self._end_error = error
        self._ended.set()
        self._transport._forget(self)
        failure = error or JanusUnavailable(f"session {self.id} was closed")
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(failure)
        for subscription in self._subscriptions:
            subscription.put(End(error))
        self._subscriptions.clear()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        if error is not None:
            log.warning("janus: session %s lost: %s", self.id, error)

    def _unsubscribe(self, subscription: Subscription) -> None:
        with contextlib.suppress(ValueError):
            self._subscriptions.remove(subscription)


class JanusHandle:
    """A handle attached to one plugin in a session."""

    def __init__(self, session: JanusSession, handle_id: int, plugin: str) -> None:
        self.session = session
        self.id = handle_id
        self.plugin = plugin
        self.url = f"{session.url}/{handle_id}"

    async def message(self, body: dict[str, Any], jsep: Jsep | None = None) -> PluginReply:
        return await self.session.message(self.id, body, jsep)

    async def trickle(self, candidate: dict[str, Any] | None) -> None:
        """Pass one ICE candidate from the peer on; None says the peer has sent them all."""
        await self.session._post(self.url, {"janus": "trickle", "candidate": candidate or {"completed": True}})

    def subscribe(self, *, maxsize: int | None = None) -> Subscription:
        return self.session.subscribe(self.id, maxsize=maxsize)

    async def hangup(self) -> None:
        """Close the handle's PeerConnection; the handle stays usable."""
        await self.session._post(self.url, {"janus": "hangup"})

    async def detach(self) -> None:
        """Detach from the plugin (this hangs up too); the handle is gone."""
        await self.session._post(self.url, {"janus": "detach"})
