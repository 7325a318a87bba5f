"""The HAProxy configuration ``salon front-door-config`` prints (app/front_door_config.py): every instance a checked
server in order, the settings WebSockets and the health checks need, addresses refused with the reason, and the
repository's example (deploy/haproxy/haproxy.cfg) exactly its output for the command line that file names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from salon.app.front_door_config import FrontDoorConfigError, front_door, render

REPO = Path(__file__).resolve().parents[3]
THREE = ["10.0.0.11:8000", "10.0.0.12:8000", "10.0.0.13:8000"]


def section(text: str, name: str) -> list[str]:
    """The lines of one section (``backend instances``...), stripped, comments and blank lines left out."""
    body = re.search(rf"^{re.escape(name)}\n(.*?)(?=^\S|\Z)", text, re.MULTILINE | re.DOTALL)
    assert body is not None, name
    lines = (line.split("#", 1)[0].strip() for line in body.group(1).splitlines())
    return [line for line in lines if line]


def test_each_instance_is_a_checked_server_of_one_least_connections_backend() -> None:
    text = render(front_door(THREE))
    backend = section(text, "backend instances")
    assert backend[:3] == ["balance leastconn", "option httpchk GET /readyz", "http-check expect status 200"]
    assert [line for line in backend if line.startswith("server ")] == [
        "server salon-1 10.0.0.11:8000",
        "server salon-2 10.0.0.12:8000",
        "server salon-3 10.0.0.13:8000",
    ]
    assert "default-server check inter 2000ms fastinter 1000ms downinter 2000ms fall 3 rise 2" in backend
    assert "http-response set-header X-Salon-Instance %[srv_name]" in backend
    assert not any("shutdown-sessions" in line for line in backend), "a failed check must not cut live clients"


def test_websockets_get_a_tunnel_timeout_and_a_dead_instance_is_retried_elsewhere() -> None:
    defaults = section(render(front_door(THREE)), "defaults")
    for line in ("mode http", "timeout tunnel 1h", "timeout check 3s", "retries 3", "option redispatch 1"):
        assert line in defaults, line


def test_the_client_address_is_appended_and_the_stats_stay_on_loopback() -> None:
    text = render(front_door(THREE, bind="127.0.0.1:8000", stats="127.0.0.1:9000"))
    assert section(text, "frontend salon") == ["bind 127.0.0.1:8000", "option forwardfor", "default_backend instances"]
    stats = section(text, "frontend stats")
    assert stats[:2] == ["bind 127.0.0.1:9000", "monitor-uri /healthz"]
    assert "stats uri /" in stats
    assert not any(line.startswith("stats admin") for line in stats), "read-only"


def test_it_drops_to_a_user_in_a_chroot_unless_told_to_stay() -> None:
    assert section(render(front_door(THREE)), "global")[-3:] == [
        "chroot /var/lib/haproxy",
        "user haproxy",
        "group haproxy",
    ]
    staying = section(render(front_door(THREE, run_as=None, check_interval_ms=200, maxconn=1000)), "global")
    assert staying == ["log stdout format raw local0 notice", "maxconn 1000"]
    assert "inter 200ms fastinter 100ms downinter 200ms" in render(front_door(THREE, check_interval_ms=200))


@pytest.mark.parametrize(
    ("instances", "options", "reason"),
    [
        ([], {}, "no instance"),
        (["10.0.0.11"], {}, "give HOST:PORT"),
        (["10.0.0.11:0"], {}, "port from 1 to 65535"),
        (["10.0.0.11:70000"], {}, "port from 1 to 65535"),
        (["bad host:8000"], {}, "not an IPv4 address, [IPv6] or a host name"),
        (["[nope]:8000"], {}, "is not an IPv6 address"),
        (["10.0.0.11:8000", "10.0.0.11:8000"], {}, "given twice"),
        (THREE, {"stats": "0.0.0.0:8404"}, "keep it on loopback"),
        (THREE, {"stats": "salon.example:8404"}, "keep it on loopback"),
        (THREE, {"bind": "127.0.0.1:8404"}, "must be different addresses"),
        (THREE, {"bind": "10.0.0.11:8000"}, "must be different addresses"),
        (THREE, {"run_as": "Not A User"}, "is not a user name"),
    ],
)
def test_addresses_that_cannot_work_are_refused_with_the_reason(
    instances: list[str], options: dict[str, Any], reason: str
) -> None:
    with pytest.raises(FrontDoorConfigError, match=re.escape(reason)):
        front_door(instances, **options)


def test_ipv6_names_and_localhost_are_accepted() -> None:
    door = front_door(["[fd00::11]:8000", "app-2.internal:8000"], stats="[::1]:8404")
    assert door.instances == ("[fd00::11]:8000", "app-2.internal:8000")
    assert front_door(THREE, stats="localhost:8404").stats == "localhost:8404"


def test_the_repository_example_is_what_the_command_prints_for_its_command_line() -> None:
    example = (REPO / "deploy" / "haproxy" / "haproxy.cfg").read_text()
    head = example.removesuffix(render(front_door(THREE)))
    assert head != example, "deploy/haproxy/haproxy.cfg must end with `salon front-door-config`'s output"
    assert all(line.startswith("#") for line in head.splitlines()), head
    assert " ".join(f"--instance {a}" for a in THREE) in head
