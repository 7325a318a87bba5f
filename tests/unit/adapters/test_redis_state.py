"""The shared state's pure parts: SALON_REDIS_URL as the ``limits`` library writes it; one instance's liveness."""

from __future__ import annotations

import pytest

from salon.adapters.redis_state.limits import windows_uri
from salon.web.presence import LocalLiveness


@pytest.mark.parametrize(
    ("url", "uri"),
    [
        ("unix:///run/redis/redis.sock", "async+redis+unix:///run/redis/redis.sock"),
        ("redis://:pw@10.0.0.5:6379/2", "async+redis://:pw@10.0.0.5:6379/2"),
        ("rediss://redis.example:6380/0", "async+rediss://redis.example:6380/0"),
    ],
)
def test_the_redis_url_as_the_limits_library_writes_it(url: str, uri: str) -> None:
    assert windows_uri(url) == uri


async def test_one_instance_knows_only_its_own_connections() -> None:
    here = {"ann"}
    liveness = LocalLiveness(here.__contains__)
    liveness.arrived("bob")  # the hub's own index is the truth here: nothing else to tell
    assert await liveness.connected(["ann", "bob"]) == {"ann"}
    liveness.left("ann")
    assert await liveness.vanished() == set()
    await liveness.close()
