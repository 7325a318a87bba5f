"""The managed Janus's NAT settings (1:1 mapping, STUN) land in janus.jcfg's ``nat`` group under Janus 1.1.2's names
(its sample /etc/janus/janus.jcfg: nat_1_1_mapping, keep_private_host, stun_server, stun_port), read back by an
independent parser; bad values are refused before Janus sees them."""

from __future__ import annotations

from pathlib import Path

import pytest

from salon.adapters.janus.config import ManagedJanusConfig, write_config
from tests.support.libconfig import parse_file

PORT = 18088


def nat_group(tmp_path: Path, config: ManagedJanusConfig) -> dict[str, object]:
    folder = tmp_path / "janus"
    write_config(config, folder)
    group = parse_file(folder / "janus.jcfg")["nat"]
    assert isinstance(group, dict)
    return group


def test_without_nat_settings_janus_uses_its_own_addresses(tmp_path: Path) -> None:
    assert nat_group(tmp_path, ManagedJanusConfig(http_port=PORT)) == {"nice_debug": False}


def test_a_1_1_mapping_and_keeping_the_private_host(tmp_path: Path) -> None:
    config = ManagedJanusConfig(http_port=PORT, nat_1_1_mapping=("198.51.100.2", "203.0.113.7"), keep_private_host=True)
    assert nat_group(tmp_path, config) == {
        "nice_debug": False,
        "nat_1_1_mapping": "198.51.100.2,203.0.113.7",
        "keep_private_host": True,
    }


def test_a_stun_server(tmp_path: Path) -> None:
    config = ManagedJanusConfig(http_port=PORT, stun_server=("stun.example.net", 3478))
    assert nat_group(tmp_path, config) == {"nice_debug": False, "stun_server": "stun.example.net", "stun_port": 3478}


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"nat_1_1_mapping": ("2001:db8::1",)}, "IPv4"),
        ({"nat_1_1_mapping": ("public.example",)}, "does not appear to be"),
        ({"keep_private_host": True}, "only means something with a nat_1_1_mapping"),
        ({"stun_server": ("stun.example.net", 0)}, "not HOST:PORT"),
        ({"stun_server": ('stun"; x', 3478)}, "not HOST:PORT"),
    ],
)
def test_bad_nat_values_are_refused(changes: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        ManagedJanusConfig(http_port=PORT, **changes)  # type: ignore[arg-type]
