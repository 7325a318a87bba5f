"""Password hashing (argon2id, off the event loop) and the common-password check."""

from __future__ import annotations

import asyncio
import threading

import pytest
from argon2 import PasswordHasher

from salon.app import passwords
from salon.app.passwords import dummy_verify, hash_password, is_common, needs_rehash, verify_password

pytestmark = pytest.mark.real_password_hashing  # these test the production hasher (tests/conftest.py lowers it)


async def test_hash_is_argon2id_with_our_parameters() -> None:
    hashed = await hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$v=19$")
    assert f"m={passwords.MEMORY_COST_KIB},t={passwords.TIME_COST},p={passwords.PARALLELISM}$" in hashed
    assert not needs_rehash(hashed)


async def test_each_hash_is_salted() -> None:
    first, second = await asyncio.gather(hash_password("same"), hash_password("same"))
    assert first != second


async def test_verify() -> None:
    hashed = await hash_password("correct horse battery staple")
    assert await verify_password(hashed, "correct horse battery staple")
    assert not await verify_password(hashed, "correct horse battery stapler")
    assert not await verify_password(hashed, "")


@pytest.mark.parametrize("bad", ["", "not a hash", "$argon2id$v=19$m=1,t=1,p=1$abc$def"])
async def test_a_malformed_hash_never_verifies_and_never_raises(bad: str) -> None:
    assert not await verify_password(bad, "anything")


async def test_needs_rehash_for_other_parameters_or_garbage() -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw")
    assert needs_rehash(old)
    assert needs_rehash("garbage")
    # A hash with other parameters still verifies (the upgrade happens after a successful log-in).
    assert await verify_password(old, "pw")


class SpyHasher:
    """Records the thread each call runs on, then delegates to the real hasher."""

    def __init__(self, real: PasswordHasher) -> None:
        self.real = real
        self.threads: list[int] = []

    def hash(self, password: str) -> str:
        self.threads.append(threading.get_ident())
        return self.real.hash(password)

    def verify(self, hashed: str, password: str) -> bool:
        self.threads.append(threading.get_ident())
        return self.real.verify(hashed, password)


async def test_hashing_runs_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = SpyHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", spy)
    hashed = await hash_password("pw")
    await verify_password(hashed, "pw")
    await dummy_verify("pw")
    assert len(spy.threads) >= 3
    assert threading.get_ident() not in spy.threads


async def test_dummy_verify_takes_about_as_long_as_a_real_one() -> None:
    loop = asyncio.get_running_loop()
    hashed = await hash_password("pw")
    await dummy_verify("warm-up")  # the dummy hash is made once, on first use
    start = loop.time()
    for _ in range(3):
        await verify_password(hashed, "wrong")
    real = loop.time() - start
    start = loop.time()
    for _ in range(3):
        await dummy_verify("wrong")
    dummy = loop.time() - start
    assert 0.3 * real < dummy < 3 * real


@pytest.mark.parametrize("password", ["password", "123456", "qwerty", "PASSWORD", "Dragon", "iloveyou"])
def test_common_passwords(password: str) -> None:
    assert is_common(password)


@pytest.mark.parametrize("password", ["correct horse battery staple", "q8#Lz!v0pW", "salon-is-lovely-2026"])
def test_uncommon_passwords(password: str) -> None:
    assert not is_common(password)


def test_common_list_is_loaded_once() -> None:
    assert passwords._common_passwords() is passwords._common_passwords()
    assert len(passwords._common_passwords()) > 20_000
