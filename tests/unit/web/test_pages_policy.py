"""The pages' Content-Security-Policy: extra connect-src origins (the broadcast nodes) widen nothing else, and
anything that is not exactly an origin is refused rather than written into the policy."""

from __future__ import annotations

import pytest

from salon.web.pages import CONTENT_SECURITY_POLICY, content_security_policy


def directives(policy: str) -> dict[str, str]:
    return dict(part.split(" ", 1) for part in policy.split("; "))


def test_the_default_policy_connects_to_this_origin_only() -> None:
    assert directives(CONTENT_SECURITY_POLICY)["connect-src"] == "'self'"
    assert content_security_policy() == CONTENT_SECURITY_POLICY


def test_broadcast_origins_are_added_to_connect_src_and_nowhere_else() -> None:
    policy = directives(content_security_policy(["https://w0.example.org", "http://127.0.0.1:8100", "https://[::1]:9"]))
    assert policy["connect-src"] == "'self' https://w0.example.org http://127.0.0.1:8100 https://[::1]:9"
    assert {k: v for k, v in policy.items() if k != "connect-src"} == {
        k: v for k, v in directives(CONTENT_SECURITY_POLICY).items() if k != "connect-src"
    }


def test_origins_are_written_in_lower_case() -> None:
    assert (
        directives(content_security_policy(["HTTPS://W0.Example.ORG"]))["connect-src"]
        == "'self' https://w0.example.org"
    )


@pytest.mark.parametrize(
    "origin",
    [
        "",
        "*",
        "https://*.example.org",
        "w0.example.org",
        "wss://w0.example.org",
        "https://w0.example.org/",
        "https://w0.example.org/v1/stream",
        "https://w0.example.org?x=1",
        "https://user@w0.example.org",
        "https://w0.example.org; script-src *",
        "https://w0.example.org 'unsafe-inline'",
        "https://w0.example.org:99999",
        "https://w0.example.org:port",
        "https://",
    ],
)
def test_anything_but_an_origin_is_refused(origin: str) -> None:
    with pytest.raises(ValueError, match="not an origin for connect-src"):
        content_security_policy([origin])
