"""Fixtures for real-media tests: a private network namespace to run Janus and WebRTC clients in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.netns import NetNamespace, network_namespace


@pytest.fixture
def netns() -> Iterator[NetNamespace]:
    """A fresh namespace (``lo`` + ``salon0`` 198.18.0.1); run code in it with ``netns.run(coroutine_function)``."""
    with network_namespace() as ns:
        yield ns
