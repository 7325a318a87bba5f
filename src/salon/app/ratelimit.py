"""App layer: rate limits (failed logins, invite creation, waitlist sign-ups, reports, searches, pings, WebSocket
messages).

Built on the ``limits`` library's moving-window strategy with in-memory storage (one instance); several instances
would point it at Redis. Limits are rules of the product, so they are named here, in one place. The lock of one
account from one address or device (``Backoff``) is kept here too, on the services' clock: it doubles, which no
window does. A refusal is ``rate_limited`` with ``retry_after`` (whole seconds) in its data.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

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
IPV6_BUCKET_PREFIX = 64  # one IPv6 subscriber usually holds a whole /64: it is one address for the limits


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


@dataclass
class _Failures:
    count: int
    last: datetime
    locked_until: datetime | None


class Backoff:
    """Failures counted per key; from the ``threshold``-th on, each locks the key for twice as long as the one before
    (``first_lock_s``, doubling, at most ``max_lock_s``). A success forgets the key; so does a quiet ``memory_s``."""

    def __init__(self, name: str, message: str, *, threshold: int, first_lock_s: int, max_lock_s: int, memory_s: int):
        self.name = name
        self.message = message
        self._threshold = threshold
        self._first_lock_s = first_lock_s
        self._max_lock_s = max_lock_s
        self._memory = timedelta(seconds=memory_s)
        self._keys: dict[str, _Failures] = {}
        self._prune_at = 1024
        self.refusals = 0  # for the metrics

    def is_free(self, key: str, now: datetime) -> bool:
        entry = self._keys.get(key)
        return entry is None or entry.locked_until is None or now >= entry.locked_until

    def check(self, key: str, now: datetime) -> None:
        """Refuse while the key is locked."""
        if self.is_free(key, now):
            return
        locked_until = self._keys[key].locked_until
        assert locked_until is not None
        self.refusals += 1
        raise refuse(
            ErrorCode.RATE_LIMITED,
            self.message,
            limit=self.name,
            reset_at=locked_until.timestamp(),
            retry_after=max(1, math.ceil((locked_until - now).total_seconds())),
        )

    def fail(self, key: str, now: datetime) -> None:
        entry = self._keys.get(key)
        if entry is None or now - entry.last >= self._memory:
            entry = self._keys[key] = _Failures(0, now, None)
        entry.count += 1
        entry.last = now
        if entry.count >= self._threshold:
            seconds = min(self._max_lock_s, self._first_lock_s * 2 ** min(entry.count - self._threshold, 32))
            entry.locked_until = now + timedelta(seconds=seconds)
        if len(self._keys) >= self._prune_at:
            self._prune(now)

    def succeed(self, key: str) -> None:
        self._keys.pop(key, None)

    def _prune(self, now: datetime) -> None:
        for key in [k for k, e in self._keys.items() if now - e.last >= self._memory]:
            del self._keys[key]
        self._prune_at = max(1024, 2 * len(self._keys))


@dataclass(frozen=True)
class Limit:
    name: str
    item: RateLimitItem
    message: str


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.refusals: Counter[str] = Counter()  # refusals by limit name, since start (the metrics read them)
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
        )

    def refusal_counts(self) -> dict[str, int]:
        """Refusals by limit since start, the log-in lock's included."""
        counts = dict(self.refusals)
        if self.login_pair.refusals:
            counts[self.login_pair.name] = self.login_pair.refusals
        return counts

    async def hit(self, limit: Limit, key: str) -> None:
        """Count one hit; refuse with ``rate_limited`` (and when to retry) once the window is full."""
        if not await self._limiter.hit(limit.item, limit.name, key):
            raise await self._refusal(limit, key)

    async def check(self, limit: Limit, key: str) -> None:
        """Refuse without counting when the window is already full (a failed log-in is counted after the fact)."""
        if not await self._limiter.test(limit.item, limit.name, key):
            raise await self._refusal(limit, key)

    async def _refusal(self, limit: Limit, key: str) -> DomainError:
        """``rate_limited``, saying which limit and when its window lets the next attempt through."""
        self.refusals[limit.name] += 1
        stats = await self._limiter.get_window_stats(limit.item, limit.name, key)
        return refuse(
            ErrorCode.RATE_LIMITED,
            limit.message,
            limit=limit.name,
            reset_at=stats.reset_time,
            retry_after=_retry_after(stats.reset_time),
        )
