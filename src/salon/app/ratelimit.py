"""App layer: rate limits (failed logins, invite creation, waitlist sign-ups, reports, searches, pings, WebSocket
messages).

Built on the ``limits`` library's moving-window strategy with in-memory storage (one instance); several instances
would point it at Redis. Limits are rules of the product, so they are named here, in one place.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from salon.app.settings import Settings
from salon.domain.errors import ErrorCode, refuse

SEARCHES_PER_MINUTE = 30  # per member: typing-as-you-search pace, not a scraper's
REPORTS_PER_HOUR = 10  # per reporter: enough for a bad evening, too few to flood the admins
PINGS_PER_MINUTE = 10  # per pinger: gathering a few friends at once, not paging a whole list
PINGS_PER_HOUR = 60  # per pinger
PINGED_PER_MINUTE = 5  # per member pinged: however many rooms want you, five taps a minute at most
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


@dataclass(frozen=True)
class Limit:
    name: str
    item: RateLimitItem
    message: str


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.failed_login = Limit(
            "failed_login",
            RateLimitItemPerMinute(settings.login_failures_per_minute),
            "Too many failed log-ins; wait a minute and try again.",
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

    async def hit(self, limit: Limit, key: str) -> None:
        """Count one hit; refuse with ``rate_limited`` (and when to retry) once the window is full."""
        if not await self._limiter.hit(limit.item, limit.name, key):
            stats = await self._limiter.get_window_stats(limit.item, limit.name, key)
            raise refuse(ErrorCode.RATE_LIMITED, limit.message, limit=limit.name, reset_at=stats.reset_time)

    async def check(self, limit: Limit, key: str) -> None:
        """Refuse without counting when the window is already full (a failed log-in is counted after the fact)."""
        if not await self._limiter.test(limit.item, limit.name, key):
            stats = await self._limiter.get_window_stats(limit.item, limit.name, key)
            raise refuse(ErrorCode.RATE_LIMITED, limit.message, limit=limit.name, reset_at=stats.reset_time)
