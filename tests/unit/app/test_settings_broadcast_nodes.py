"""Broadcast nodes on other boxes (SALON_BROADCAST_NODES): a JSON list of {name, public_url, control_url, rtp}."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from salon.app.settings import Settings

NODE = {
    "name": "eu-1",
    "public_url": "https://b1.example",
    "control_url": "http://10.0.0.7:9000",
    "rtp": "10.0.0.7:5004",
}


def node(**changes: Any) -> dict[str, Any]:
    return {**NODE, **changes}


def test_none_by_default() -> None:
    assert Settings(dev=True).broadcast_nodes == []


def test_from_the_environment_as_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    one = '{"name": "eu-1", "public_url": "https://b1.example", "control_url": "http://10.0.0.7:9000",'
    one += ' "rtp": "broadcast-1.internal:5004"}'
    other = '{"name": "eu-2", "public_url": "http://b2.example:8080", "control_url": "https://[fd00::2]:9000",'
    other += ' "rtp": "[fd00::2]:5004"}'
    monkeypatch.setenv("SALON_BROADCAST_NODES", f"[{one}, {other}]")
    first, second = Settings(dev=True).broadcast_nodes
    assert (first.name, first.public_url, first.control_url) == ("eu-1", "https://b1.example", "http://10.0.0.7:9000")
    assert (first.rtp_host, first.rtp_port) == ("broadcast-1.internal", 5004)
    assert (second.rtp_host, second.rtp_port) == ("fd00::2", 5004)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "w0"}, "not w<number>"),
        ({"name": "eu 1"}, "letters, digits"),
        ({"name": "x" * 129}, "letters, digits"),
        ({"public_url": "b1.example"}, "public_url must be an http"),
        ({"control_url": "ftp://10.0.0.7"}, "control_url must be an http"),
        ({"rtp": "10.0.0.7"}, "is not HOST:PORT"),
        ({"rtp": "10.0.0.7:0"}, "needs a port"),
        ({"rtp": "10.0.0.7:65536"}, "needs a port"),
        ({"rtp": "10.0.0.7:x"}, "needs a port"),
        ({"rtp": "-bad:5004"}, "is not HOST:PORT"),
        ({"rtp": "[nope]:5004"}, "is not HOST:PORT"),
        ({"rtp": ":5004"}, "is not HOST:PORT"),
        ({"secret": "x"}, "Extra inputs"),
    ],
)
def test_a_malformed_node_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[")):
        Settings(dev=True, broadcast_nodes=[node(**changes)])


def test_names_are_unique() -> None:
    with pytest.raises(ValidationError, match="its own name"):
        Settings(dev=True, broadcast_nodes=[node(), node(rtp="10.0.0.8:5004")])
