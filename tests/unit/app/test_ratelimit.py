"""The log-in lock of one account from one address or device: doubling, capped, forgotten, kept in a shared store when
there is one and in memory while it is away; IPv6 /64 buckets."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import NoReturn

import pytest

from salon.app.ports import FailureRecord, FailureStore, SharedStateUnavailable
from salon.app.ratelimit import (
    LOGIN_PAIR_FAILURES,
    LOGIN_PAIR_LOCK_MAX_S,
    LOGIN_PAIR_LOCK_S,
    LOGIN_PAIR_MEMORY_S,
    RETRY_SHARED_S,
    Backoff,
    MemoryFailures,
    Outage,
    address_bucket,
)
from salon.domain.errors import DomainError, ErrorCode

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def backoff() -> Backoff:
    return Backoff(
        "login_pair",
        "Wait.",
        threshold=LOGIN_PAIR_FAILURES,
        first_lock_s=LOGIN_PAIR_LOCK_S,
        max_lock_s=LOGIN_PAIR_LOCK_MAX_S,
        memory_s=LOGIN_PAIR_MEMORY_S,
    )


async def retry_after(b: Backoff, key: str, now: datetime) -> int | None:
    """Seconds until the key may try again; None when it is not locked."""
    if await b.is_free(key, now):
        return None
    with pytest.raises(DomainError) as exc:
        await b.check(key, now)
    assert exc.value.code is ErrorCode.RATE_LIMITED
    assert exc.value.data["limit"] == "login_pair"
    seconds = int(exc.value.data["retry_after"])
    assert exc.value.data["reset_at"] == (now + timedelta(seconds=seconds)).timestamp()
    return seconds


async def test_the_lock_starts_at_the_threshold_doubles_and_never_passes_the_cap() -> None:
    b, now = backoff(), T0
    for _ in range(LOGIN_PAIR_FAILURES - 1):
        await b.fail("k", now)
        assert await retry_after(b, "k", now) is None
    locks = []
    for _ in range(12):
        await b.fail("k", now)
        locks.append(await retry_after(b, "k", now))
        now += timedelta(seconds=LOGIN_PAIR_LOCK_MAX_S)
        assert await retry_after(b, "k", now) is None
    assert locks == [60, 120, 240, 480, 960, 1920] + [LOGIN_PAIR_LOCK_MAX_S] * 6
    assert await retry_after(b, "other", now) is None, "a lock holds for its own key only"


async def test_a_success_or_a_quiet_day_forgets_the_failures() -> None:
    b = backoff()
    for _ in range(LOGIN_PAIR_FAILURES):
        await b.fail("k", T0)
    await b.succeed("k")
    assert await retry_after(b, "k", T0) is None
    for _ in range(LOGIN_PAIR_FAILURES):
        await b.fail("k", T0)
    later = T0 + timedelta(seconds=LOGIN_PAIR_MEMORY_S)
    await b.fail("k", later)  # the first failure of a new count, not the sixth
    assert await retry_after(b, "k", later) is None


async def test_forgotten_keys_are_pruned_as_the_table_grows() -> None:
    b = backoff()
    for i in range(1500):
        await b.fail(f"old{i}", T0)
    later = T0 + timedelta(seconds=LOGIN_PAIR_MEMORY_S)
    for i in range(1500):
        await b.fail(f"new{i}", later)
    assert set(b.local._keys) == {f"new{i}" for i in range(1500)}


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("unknown", "unknown"),
    ],
)
def test_an_ipv6_client_is_one_bucket_per_64(address: str, bucket: str) -> None:
    assert address_bucket(address) == bucket


class _Unreachable:
    """A shared ``FailureStore`` whose every call fails, as Redis away does."""

    def __init__(self) -> None:
        self.calls = 0

    async def _fail(self) -> NoReturn:
        self.calls += 1
        raise SharedStateUnavailable("connection refused")

    async def get(self, key: str) -> FailureRecord | None:
        return await self._fail()

    async def add_failure(self, key: str, now: datetime, forget_before: datetime) -> int:
        return await self._fail()

    async def lock(self, key: str, until: datetime) -> None:
        await self._fail()

    async def forget(self, key: str) -> None:
        await self._fail()


def shared_backoff(shared: FailureStore, outage: Outage) -> Backoff:
    return Backoff(
        "login_pair",
        "Wait.",
        threshold=LOGIN_PAIR_FAILURES,
        first_lock_s=LOGIN_PAIR_LOCK_S,
        max_lock_s=LOGIN_PAIR_LOCK_MAX_S,
        memory_s=LOGIN_PAIR_MEMORY_S,
        shared=shared,
        outage=outage,
    )


async def test_the_lock_is_kept_in_the_shared_store_when_there_is_one() -> None:
    shared = MemoryFailures(LOGIN_PAIR_MEMORY_S)
    b = shared_backoff(shared, Outage())
    for _ in range(LOGIN_PAIR_FAILURES):
        await b.fail("k", T0)
    assert await retry_after(b, "k", T0) == LOGIN_PAIR_LOCK_S
    assert set(shared._keys) == {"k"}
    assert b.local._keys == {}, "nothing kept in this instance's memory"
    assert await retry_after(shared_backoff(shared, Outage()), "k", T0) == LOGIN_PAIR_LOCK_S, "another instance"


async def test_with_the_shared_store_away_the_lock_is_kept_here_and_it_is_asked_again_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared, outage = _Unreachable(), Outage()
    b = shared_backoff(shared, outage)
    for _ in range(LOGIN_PAIR_FAILURES):
        await b.fail("k", T0)
    assert await retry_after(b, "k", T0) == LOGIN_PAIR_LOCK_S, "still locked, in memory"
    assert (shared.calls, outage.errors) == (1, 1), "asked once, then left alone"
    later = time.monotonic() + RETRY_SHARED_S
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert await b.is_free("other", T0)
    assert shared.calls == 2, "asked again after the retry time"


async def test_a_later_lock_wins_and_a_lock_needs_failures() -> None:
    store = MemoryFailures(LOGIN_PAIR_MEMORY_S)
    await store.lock("none", T0)
    assert await store.get("none") is None
    assert await store.add_failure("k", T0, T0 - timedelta(days=1)) == 1
    await store.lock("k", T0 + timedelta(seconds=120))
    await store.lock("k", T0 + timedelta(seconds=60))  # another instance's shorter lock, written last
    entry = await store.get("k")
    assert entry is not None
    assert entry.locked_until == T0 + timedelta(seconds=120)
