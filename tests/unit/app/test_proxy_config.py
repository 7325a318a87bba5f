"""The nginx configuration ``salon proxy-config`` prints: made from the settings (ports, workers' names, the domain,
the avatar limit), refused with a reason when the settings cannot work behind it, and the repository's example
(deploy/nginx/salon.conf) is exactly its output for the settings that file names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from salon.app.proxy_config import ProxyConfigError, render, target
from salon.app.settings import Settings

REPO = Path(__file__).resolve().parents[3]
PROXIED = {"public_url": "https://salon.example", "trusted_proxies": "127.0.0.1"}


def settings(**given: Any) -> Settings:
    return Settings(**{**PROXIED, "broadcast_port": 8100, "broadcast_workers": 2, **given})


def locations(text: str) -> list[tuple[str, str]]:
    """Each ``location`` of the config in order: its path and its upstream (``proxy_pass``), redirect or root."""
    found = re.findall(r"location (\S+) \{\s*(?:proxy_pass (\S+);|return 301 (\S+);|root (\S+);)", text)
    return [(path, upstream or redirect or root) for path, upstream, redirect, root in found]


def test_the_app_and_each_managed_worker_get_their_own_location() -> None:
    text = render(target(settings(port=8010, broadcast_port=9000, broadcast_workers=3)))
    assert locations(text) == [
        ("/.well-known/acme-challenge/", "/var/www/html"),  # port 80: certbot's renewals ...
        ("/", "https://salon.example$request_uri"),  # ... and the redirect
        ("/", "http://127.0.0.1:8010"),  # 443: the app
        ("/broadcast/w0/", "http://127.0.0.1:9000/"),
        ("/broadcast/w1/", "http://127.0.0.1:9001/"),
        ("/broadcast/w2/", "http://127.0.0.1:9002/"),
    ]
    assert "server_name salon.example;" in text
    assert "ssl_certificate /etc/letsencrypt/live/salon.example/fullchain.pem;" in text
    assert "ssl_certificate_key /etc/letsencrypt/live/salon.example/privkey.pem;" in text
    assert f"client_max_body_size {2 * 1024 * 1024 + 64 * 1024};" in text


def test_streams_are_unbuffered_and_every_location_says_all_its_headers() -> None:
    text = render(target(settings()))
    blocks = re.findall(r"location (/broadcast/w\d/|/) \{(.*?)\n    \}", text, re.DOTALL)
    assert [path for path, _ in blocks] == ["/", "/broadcast/w0/", "/broadcast/w1/"]
    for path, body in blocks:
        for line in (
            "proxy_http_version 1.1;",
            "proxy_read_timeout 1h;",
            "proxy_set_header X-Forwarded-Proto $scheme;",
        ):
            assert line in body, (path, line)
        assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in body
        assert ("proxy_buffering off;" in body) == path.startswith("/broadcast/")
        assert ("proxy_set_header Upgrade $http_upgrade;" in body) == (path == "/")


def test_a_public_port_other_than_443_and_no_port_80_server() -> None:
    t = target(settings(public_url="https://salon.example:8443/"), http_port=None)
    text = render(t)
    assert "listen 8443 ssl http2;" in text
    assert "listen 80" not in text
    assert "acme-challenge" not in text
    assert (
        render(target(settings(public_url="https://salon.example:8443"), http_port=8080)).count(
            "return 301 https://salon.example:8443$request_uri;"
        )
        == 1
    )


def test_given_certificate_paths_are_used(tmp_path: Path) -> None:
    text = render(target(settings(), cert=tmp_path / "c.pem", key=tmp_path / "k.pem"))
    assert f"ssl_certificate {tmp_path / 'c.pem'};" in text
    assert f"ssl_certificate_key {tmp_path / 'k.pem'};" in text


@pytest.mark.parametrize(
    ("host", "upstream"),
    [("0.0.0.0", "127.0.0.1"), ("::", "[::1]"), ("10.0.0.5", "10.0.0.5"), ("fd00::5", "[fd00::5]")],  # noqa: S104
)
def test_the_proxy_connects_where_salon_listens(host: str, upstream: str) -> None:
    found = locations(render(target(settings(host=host, port=8000))))
    assert found[2:] == [("/", f"http://{upstream}:8000"), ("/broadcast/w0/", f"http://{upstream}:8100/"),
                         ("/broadcast/w1/", f"http://{upstream}:8101/")]  # fmt: skip


@pytest.mark.parametrize(
    "given",
    [{"audience_tier": "webrtc"}, {"broadcast_workers": 0, "broadcast_port": 0}],
)
def test_no_worker_locations_without_managed_workers(given: dict[str, Any]) -> None:
    assert "/broadcast/" not in render(target(settings(**given)))


def test_no_worker_locations_with_an_external_janus() -> None:
    external = {"janus_url": "http://10.0.0.9:8088/janus", "janus_api_secret": "s", "janus_admin_key": "k"}
    assert "/broadcast/" not in render(target(settings(**external)))


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"public_url": ""}, "SALON_PUBLIC_URL is 'http://127.0.0.1:8000'"),
        ({"public_url": "http://salon.example"}, "set it to the https URL"),
        ({"public_url": "https://salon.example/salon"}, "set it to the https URL"),
        ({"trusted_proxies": ""}, "SALON_TRUSTED_PROXIES is empty"),
        ({"broadcast_port": 0}, "SALON_BROADCAST_PORT is 0"),
        ({"broadcast_port": 65535}, "runs past port 65535"),
        ({"broadcast_public_url": "https://cdn.example/{name}"}, "SALON_BROADCAST_PUBLIC_URL"),
    ],
)
def test_settings_that_cannot_work_behind_the_proxy_are_refused_saying_why(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ProxyConfigError, match=re.escape(message)):
        target(settings(**given))


def test_the_repository_example_is_what_the_command_prints_for_its_settings() -> None:
    example = (REPO / "deploy" / "nginx" / "salon.conf").read_text()
    printed = render(target(settings(port=8000, broadcast_port=8100, broadcast_workers=2)))
    head = example.removesuffix(printed)
    assert head != example, "deploy/nginx/salon.conf must end with `salon proxy-config`'s output for its settings"
    assert all(line.startswith("#") for line in head.splitlines()), head
    for setting in ("SALON_PUBLIC_URL=https://salon.example", "SALON_BROADCAST_PORT=8100", "SALON_BROADCAST_WORKERS=2"):
        assert setting in head


def test_a_given_webroot_answers_the_challenges(tmp_path: Path) -> None:
    # certbot --webroot -w <folder> writes its challenges there; port 80 must answer them from the same folder.
    text = render(target(settings(), webroot=tmp_path / "acme"))
    assert locations(text)[0] == ("/.well-known/acme-challenge/", str(tmp_path / "acme"))
