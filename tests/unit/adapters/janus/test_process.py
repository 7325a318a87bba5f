"""ManagedJanus's failure paths, with stand-in programs for Janus: clear errors, no secret shown, nothing left running.

The real Janus is exercised in tests/integration/test_managed_janus.py.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from salon.adapters.janus.config import ManagedJanusConfig
from salon.adapters.janus.process import BACKOFF_MAX_S, JanusStartError, ManagedJanus
from tests.support.janus import is_alive, killing_leftovers


def program(tmp_path: Path, body: str, interpreter: str = "/bin/sh") -> Path:
    path = tmp_path / "fake-janus"
    path.write_text(f"#!{interpreter}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


async def test_a_missing_binary_is_named(tmp_path: Path) -> None:
    janus = ManagedJanus(tmp_path / "janus", binary=tmp_path / "nope")
    with pytest.raises(JanusStartError, match="nope not found: install Janus"):
        await janus.start()


async def test_an_early_exit_shows_the_log_without_the_secrets(tmp_path: Path) -> None:
    # Prints its whole config, as Janus does above debug level 4, then fails.
    binary = program(
        tmp_path,
        """
        dir="${1#--configs-folder=}"
        cat "$dir/janus.jcfg" "$dir/janus.plugin.audiobridge.jcfg"
        echo "boom: cannot start"
        exit 3
        """,
    )
    config = ManagedJanusConfig(http_port=18099)
    janus = ManagedJanus(tmp_path / "janus", config, binary=binary)
    with pytest.raises(JanusStartError) as caught:
        await janus.start()
    message = str(caught.value)
    assert caught.value.exit_code == 3
    assert "exited with code 3 while starting" in message
    assert "boom: cannot start" in message
    assert str(tmp_path / "janus" / "janus.log") in message
    assert config.api_secret not in message
    assert config.admin_key not in message
    assert 'admin_key = "***"' in message
    assert janus.pid is None


async def test_with_a_port_picked_for_it_an_early_exit_is_retried_on_other_ports(tmp_path: Path) -> None:
    binary = program(tmp_path, 'echo "$1" >> "${1#--configs-folder=}/../starts"\nexit 1\n')
    janus = ManagedJanus(tmp_path / "janus", binary=binary)
    with pytest.raises(JanusStartError, match="exited with code 1"):
        await janus.start()
    assert len((tmp_path / "starts").read_text().splitlines()) == 3


async def test_a_janus_that_never_answers_is_killed(tmp_path: Path) -> None:
    binary = program(tmp_path, 'echo $$ > "${1#--configs-folder=}/../pid"\necho listening...\nexec sleep 60\n')
    janus = ManagedJanus(tmp_path / "janus", binary=binary, start_timeout=0.5)
    with killing_leftovers(tmp_path / "janus"), pytest.raises(JanusStartError) as caught:
        await janus.start()
    assert "did not answer http://127.0.0.1:" in str(caught.value)
    assert "within 0.5 s" in str(caught.value)
    assert "listening..." in str(caught.value)
    assert caught.value.exit_code is None
    assert not is_alive(int((tmp_path / "pid").read_text()))


async def test_a_janus_with_extra_modules_is_refused(tmp_path: Path) -> None:
    # Answers /janus/info like a Janus that loaded more than it was told to.
    binary = program(
        tmp_path,
        """
        import http.server, json, re, sys
        folder = sys.argv[1].split("=", 1)[1]
        port = int(re.search(r"port = (\\d+)", open(folder + "/janus.transport.http.jcfg").read()).group(1))
        info = {"janus": "server_info", "api_secret": True, "events": {}, "loggers": {},
                "transports": {"janus.transport.http": {}, "janus.transport.websockets": {}},
                "plugins": {"janus.plugin.audiobridge": {}, "janus.plugin.streaming": {}, "janus.plugin.sip": {}}}
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps(info).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
        """,
        interpreter=sys.executable,
    )
    janus = ManagedJanus(tmp_path / "janus", binary=binary)
    with killing_leftovers(tmp_path / "janus"), pytest.raises(JanusStartError) as caught:
        await janus.start()
    message = str(caught.value)
    assert "not locked down" in message
    assert "janus.plugin.sip" in message
    assert "janus.transport.websockets" in message


def test_restart_backoff_grows_to_a_cap() -> None:
    delays = [ManagedJanus._backoff(n) for n in range(12)]
    assert delays[0] < 0.3
    assert delays[5] > delays[1]
    assert max(delays) <= BACKOFF_MAX_S * 1.25


async def test_start_may_be_retried_after_a_failure(tmp_path: Path) -> None:
    janus = ManagedJanus(tmp_path / "janus", ManagedJanusConfig(http_port=18098), binary=program(tmp_path, "exit 2\n"))
    for _ in range(2):
        with pytest.raises(JanusStartError, match="exited with code 2"):
            await janus.start()
