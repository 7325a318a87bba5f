"""Rate-limit keys: an IPv6 client is one bucket per /64."""

from __future__ import annotations

import pytest

from salon.app.ratelimit import address_bucket


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
