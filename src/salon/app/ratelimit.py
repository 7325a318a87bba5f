"""App layer: rate limits (failed logins, invite creation, waitlist sign-ups, reports, searches, pings, WebSocket
messages).

Built on the ``limits`` library's moving-window strategy, in memory on one instance; with several instances
(``SharedStores``, built by ``adapters/redis_state``) the windows live in Redis, the ``limits`` library's own Redis
storage, so a bound holds across instances. Limits are rules of the product, so they are named here, in one place.
The lock of one account from one address or device (``Backoff``) is kept here too, on the services' clock: it
doubles, which no window does; its failures are kept behind the ``FailureStore`` port. While Redis does not answer
each instance counts in its own memory (``Outage``). A refusal is ``rate_limited`` with ``retry_after`` (whole
seconds) in its data.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from salon.app.ports import FailureRecord, FailureStore, SharedStateUnavailable
from salon.app.settings import Settings
from salon.domain.errors import DomainError, ErrorCode, refuse

SEARCHES_PER_MINUTE = 30  # per member: typing-as-you-search pace, not a scraper's
REPORTS_PER_HOUR = 10  # per reporter: enough for a bad evening, too few to flood the admins
PINGS_PER_MINUTE = 10  # per pinger: gathering a few friends at once, not paging a whole list
PINGS_PER_HOUR = 60  # per pinger
PINGED_PER_MINUTE = 5  # per member pinged: however many rooms want you, five taps a minute at most
# Failed log-ins (docs/ARCHITECTURE.md, Security, "Log-in limits"). Per account and address (or known device):
LOGIN_PAIR_FAILURES = 5  # failures before the pair is locked
LOGIN_PAIR_LOCK_S = 60  # the first lock; each further failure doubles it ...
LOGIN_PAIR_LOCK_MAX_S = 3600  # ... up to an hour
LOGIN_PAIR_MEMORY_S = 86_400  # a pair's failures are forgotten a day after its last one
# Per account, from every address together; a known device is not refused by it:
LOGIN_ACCOUNT_FAILURES_PER_HOUR = 100
LOGIN_LIMITED_MESSAGE = "Too many failed log-ins; wait a while and try again."
RETRY_SHARED_S = 5.0  # after the shared store (Redis) failed, this instance's memory is used this long
IPV6_BUCKET_PREFIX = 64  # one IPv6 subscriber usually holds a whole /64: it is one address for the limits


log = logging.getLogger(__name__)
T = TypeVar("T")


def address_bucket(address: str) -> str:
    """The key of a client address for the limits: an IPv4 address itself, an IPv6 one's /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_BUCKET_PREFIX}", strict=False))
    return str(parsed)


def _retry_after(reset_time: float) -> int:
    return max(1, math.ceil(reset_time - time.time()))


class Outage:
    """Whether the shared store (Redis) may be asked now. After it failed, this instance uses its own memory for
    ``RETRY_SHARED_S`` before asking again, so an outage costs one timeout per period, not one per request. Why
    the limits fall back to this instance's memory rather than failing open or closed: docs/ARCHITECTURE.md,
    "Several instances: shared live state"."""

    def __init__(self) -> None:
        self._retry_at = 0.0
        self.errors = 0  # for the metrics: calls the shared store failed, since start

    def usable(self) -> bool:
        return time.monotonic() >= self._retry_at

    def failed(self, exc: BaseException) -> None:
        self.errors += 1
        if self.usable():
            log.warning("rate limits: the shared store failed (%s); using this instance's memory for %ss", exc,
                        RETRY_SHARED_S)  # fmt: skip
        self._retry_at = time.monotonic() + RETRY_SHARED_S


class MemoryFailures:
    """``FailureStore`` in this instance's memory (one instance, or the fallback while Redis is away)."""

    def __init__(self, memory_s: int) -> None:
        self._memory = timedelta(seconds=memory_s)
        self._keys: dict[str, FailureRecord] = {}
        self._prune_at = 1024

    async def get(self, key: str) -> FailureRecord | None:
        return self._keys.get(key)

    async def add_failure(self, key: str, now: datetime, forget_before: datetime) -> int:
        entry = self._keys.get(key)
        if entry is None or entry.last <= forget_before:
            entry = FailureRecord(0, now, None)
        entry = self._keys[key] = replace(entry, count=entry.count + 1, last=now)
        if len(self._keys) >= self._prune_at:
            self._prune(now)
        return entry.count

    async def lock(self, key: str, until: datetime) -> None:
        entry = self._keys.get(key)
        if entry is not None and (entry.locked_until is None or entry.locked_until < until):
            self._keys[key] = replace(entry, locked_until=until)

    async def forget(self, key: str) -> None:
        self._keys.pop(key, None)

    def _prune(self, now: datetime) -> None:
        for key in [k for k, e in self._keys.items() if now - e.last >= self._memory]:
            del self._keys[key]
        self._prune_at = max(1024, 2 * len(self._keys))


class Backoff:
    """Failures counted per key; from the ``threshold``-th on, each locks the key for twice as long as the one before
    (``first_lock_s``, doubling, at most ``max_lock_s``). A success forgets the key; so does a quiet ``memory_s``.
    The rule is here; the failures are kept in ``shared`` (Redis, several instances) when given, else in this
    instance's memory, which also stands in while the shared store is away."""

    def __init__(
        self,
        name: str,
        message: str,
        *,
        threshold: int,
        first_lock_s: int,
        max_lock_s: int,
        memory_s: int,
        shared: FailureStore | None = None,
        outage: Outage | None = None,
    ):
        self.name = name
        self.message = message
        self._threshold = threshold
        self._first_lock_s = first_lock_s
        self._max_lock_s = max_lock_s
        self._memory = timedelta(seconds=memory_s)
        self.local = MemoryFailures(memory_s)
        self._shared = shared
        self._outage = outage if outage is not None else Outage()
        self.refusals = 0  # for the metrics

    async def _store(self, op: Callable[[FailureStore], Awaitable[T]]) -> T:
        if self._shared is not None and self._outage.usable():
            try:
                return await op(self._shared)
            except SharedStateUnavailable as exc:
                self._outage.failed(exc)
        return await op(self.local)

    async def locked_until(self, key: str, now: datetime) -> datetime | None:
        """When the key's lock ends; None when it is not locked now."""
        entry = await self._store(lambda store: store.get(key))
        if entry is None or entry.locked_until is None or now >= entry.locked_until:
            return None
        return entry.locked_until

    async def is_free(self, key: str, now: datetime) -> bool:
        return await self.locked_until(key, now) is None

    async def check(self, key: str, now: datetime) -> None:
        """Refuse while the key is locked."""
        locked_until = await self.locked_until(key, now)
        if locked_until is None:
            return
        self.refusals += 1
        raise refuse(
            ErrorCode.RATE_LIMITED,
            self.message,
            limit=self.name,
            reset_at=locked_until.timestamp(),
            retry_after=max(1, math.ceil((locked_until - now).total_seconds())),
        )

    async def fail(self, key: str, now: datetime) -> None:
        count = await self._store(lambda store: store.add_failure(key, now, now - self._memory))
        if count >= self._threshold:
            seconds = min(self._max_lock_s, self._first_lock_s * 2 ** min(count - self._threshold, 32))
            until = now + timedelta(seconds=seconds)
            await self._store(lambda store: store.lock(key, until))

    async def succeed(self, key: str) -> None:
        await self._store(lambda store: store.forget(key))


@dataclass(frozen=True)
class Limit:
    name: str
    item: RateLimitItem
    message: str
    # False for a limit keyed on one WebSocket connection, which lives on one instance: counted in this instance's
    # memory even with Redis (a round trip per message would buy nothing).
    shared: bool = True


@dataclass(frozen=True)
class SharedStores:
    """Several instances (``SALON_REDIS_URL``): where the adapters keep the limits for all of them — the windows in
    the ``limits`` library's own storage, the log-in lock's failures in a ``FailureStore`` — and how to close
    them."""

    windows: Storage
    failures: FailureStore
    close: Callable[[], Awaitable[None]]


class RateLimits:
    def __init__(self, settings: Settings, shared: SharedStores | None = None) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._shared = shared
        self._shared_limiter = None if shared is None else MovingWindowRateLimiter(shared.windows)
        self.outage = Outage()  # the shared store's failures (one for the windows and the lock: one Redis)
        self.refusals: Counter[str] = Counter()  # refusals by limit name, per instance (Prometheus sums them)
        # Failed log-ins from one address, whatever the accounts (``app/accounts.py: log_in`` has the whole rule).
        self.failed_login = Limit(
            "failed_login",
            RateLimitItemPerMinute(settings.login_failures_per_minute),
            "Too many failed log-ins from here; wait a minute and try again.",
        )
        self.login_account = Limit(
            "login_account", RateLimitItemPerHour(LOGIN_ACCOUNT_FAILURES_PER_HOUR), LOGIN_LIMITED_MESSAGE
        )
        self.login_pair = Backoff(
            "login_pair",
            LOGIN_LIMITED_MESSAGE,
            threshold=LOGIN_PAIR_FAILURES,
            first_lock_s=LOGIN_PAIR_LOCK_S,
            max_lock_s=LOGIN_PAIR_LOCK_MAX_S,
            memory_s=LOGIN_PAIR_MEMORY_S,
            shared=None if shared is None else shared.failures,
            outage=self.outage,
        )
        self.invite_create = Limit(
            "invite_create", RateLimitItemPerHour(settings.invites_per_hour), "Too many invites created; slow down."
        )
        self.waitlist = Limit("waitlist", RateLimitItemPerHour(20), "Too many waitlist requests from here.")
        self.report = Limit(
            "report", RateLimitItemPerHour(REPORTS_PER_HOUR), "Too many reports in an hour; admins read every one sent."
        )
        self.search = Limit("search", RateLimitItemPerMinute(SEARCHES_PER_MINUTE), "Too many searches; wait a moment.")
        # Every ping attempt counts for the pinger (a refusal too, so blocks cannot be probed quickly); only pings
        # that go through count for the member pinged (``app/pings.py``), so a refused one (a blocked member's, say)
        # never uses up someone's pings.
        self.ping = Limit("ping", RateLimitItemPerMinute(PINGS_PER_MINUTE), "Too many pings; wait a minute.")
        self.ping_hourly = Limit("ping_hourly", RateLimitItemPerHour(PINGS_PER_HOUR), "Too many pings this hour.")
        self.pinged = Limit(
            "pinged",
            RateLimitItemPerMinute(PINGED_PER_MINUTE),
            "This member was pinged several times just now; try again in a minute.",
        )
        self.ws_message = Limit(
            "ws_message",
            RateLimitItemPerSecond(settings.ws_messages_per_second),
            "Too many messages on this connection.",
            shared=False,
        )

    @property
    def is_shared(self) -> bool:
        return self._shared is not None

    async def aclose(self) -> None:
        """Close the shared stores' connections (nothing to do in memory)."""
        if self._shared is not None:
            await self._shared.close()

    def refusal_counts(self) -> dict[str, int]:
        """Refusals by limit since start, the log-in lock's included."""
        counts = dict(self.refusals)
        if self.login_pair.refusals:
            counts[self.login_pair.name] = self.login_pair.refusals
        return counts

    async def hit(self, limit: Limit, key: str) -> None:
        """Count one hit; refuse with ``rate_limited`` (and when to retry) once the window is full."""
        if not await self._ask(limit, lambda limiter: limiter.hit(limit.item, limit.name, key)):
            raise await self._refusal(limit, key)

    async def check(self, limit: Limit, key: str) -> None:
        """Refuse without counting when the window is already full (a failed log-in is counted after the fact)."""
        if not await self._ask(limit, lambda limiter: limiter.test(limit.item, limit.name, key)):
            raise await self._refusal(limit, key)

    async def _ask(self, limit: Limit, op: Callable[[MovingWindowRateLimiter], Awaitable[T]]) -> T:
        """Ask the shared windows (Redis) for a shared limit, this instance's own when there are none or while
        they do not answer."""
        if limit.shared and self._shared_limiter is not None and self.outage.usable():
            try:
                return await op(self._shared_limiter)
            except (StorageError, SharedStateUnavailable) as exc:
                self.outage.failed(exc)
        return await op(self._limiter)

    async def _refusal(self, limit: Limit, key: str) -> DomainError:
        """``rate_limited``, saying which limit and when its window lets the next attempt through."""
        self.refusals[limit.name] += 1
        stats = await self._ask(limit, lambda limiter: limiter.get_window_stats(limit.item, limit.name, key))
        return refuse(
            ErrorCode.RATE_LIMITED,
            limit.message,
            limit=limit.name,
            reset_at=stats.reset_time,
            retry_after=_retry_after(stats.reset_time),
        )
