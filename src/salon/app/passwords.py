"""App layer: password hashing (argon2id) and the common-password check.

Hashing is deliberately slow, so it runs in a worker thread (``asyncio.to_thread``) and never blocks the event loop.
Parameters follow OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane): about 45 ms per hash on this
project's 2-core machine kind. A stored hash made with other parameters is upgraded at the next log-in
(``needs_rehash``).
"""

from __future__ import annotations

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn.frequency_lists import FREQUENCY_LISTS

TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1

_hasher = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM)


async def hash_password(password: str) -> str:
    """An argon2id hash (PHC string with its own random salt and parameters)."""
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; False for a wrong password or a malformed hash (never raises)."""
    return await asyncio.to_thread(_verify, password_hash, password)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("salon dummy password, never valid")


async def dummy_verify(password: str) -> None:
    """Spend the time of a real verification, for a user who does not exist (no timing oracle)."""
    dummy = await asyncio.to_thread(_dummy_hash)
    await verify_password(dummy, password)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's (upgrade it after a successful log-in)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except ValueError:  # InvalidHashError is one
        return True


@cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn's list of the 30,000 most common passwords, loaded once, on first use.
    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


def is_common(password: str) -> bool:
    """True for a password on the common-passwords list (case-insensitive)."""
    return password.lower() in _common_passwords()
