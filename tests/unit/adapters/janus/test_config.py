"""The managed Janus's config is locked down (docs/ARCHITECTURE.md, Running Janus), read back by an independent parser.

The module denylist is checked against what is really installed under Debian's Janus folders, so a plugin that a
package upgrade adds shows up here as "would load".
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from salon.adapters.janus.config import (
    ALLOWED_PLUGINS,
    CONFIG_FILES,
    JanusModules,
    ManagedJanusConfig,
    config_folder,
    default_lib_dir,
    installed_modules,
    render_config,
    write_config,
)
from tests.support.janus import config_problems
from tests.support.libconfig import parse, parse_file

PORT = 18088


def written(tmp_path: Path, config: ManagedJanusConfig | None = None) -> Path:
    folder = tmp_path / "janus"
    write_config(config or ManagedJanusConfig(http_port=PORT), folder)
    return folder


def test_the_generated_config_passes_the_lock_down_check(tmp_path: Path) -> None:
    folder = written(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == sorted(CONFIG_FILES)
    assert config_problems(folder) == []


def test_the_check_has_teeth_debians_stock_config_fails_it(tmp_path: Path) -> None:
    stock = tmp_path / "stock"
    stock.mkdir()
    for name in CONFIG_FILES:
        shutil.copy(Path("/etc/janus") / name, stock / name)
    problems = "\n".join(config_problems(stock))
    for expected in (
        "no api_secret",
        "Debian's well-known",
        "media.ipv6",
        "plugins that Janus would load",
        "transports that Janus would load",
        "http general.ip",
        "sample rooms/mountpoints ['room-1234']",
        "'rtp-sample'",
        "no admin_key",
        "lock_rtp_forward",
    ):
        assert expected in problems


def test_every_installed_module_but_audiobridge_streaming_and_http_is_disabled(tmp_path: Path) -> None:
    lib = default_lib_dir()
    core = parse_file(written(tmp_path) / "janus.jcfg")
    installed = installed_modules(lib)
    assert installed.plugins >= ALLOWED_PLUGINS, "Debian's janus package is not installed"

    def disabled(kind: str) -> set[str]:
        return set(core[kind]["disable"].split(","))

    assert installed.plugins - disabled("plugins") == {"libjanus_audiobridge.so", "libjanus_streaming.so"}
    assert installed.transports - disabled("transports") == {"libjanus_http.so"}
    assert installed.events - disabled("events") == set()
    assert installed.loggers - disabled("loggers") == set()
    assert {"libjanus_websockets.so", "libjanus_mqtt.so", "libjanus_nanomsg.so", "libjanus_rabbitmq.so"} <= disabled(
        "transports"
    )
    assert "libjanus_pfunix.so" in disabled("transports")
    assert core["events"]["broadcast"] is False
    assert core["general"]["plugins_folder"] == str(lib / "plugins")


def test_a_module_installed_later_is_disabled_too(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    for kind, name in [
        ("plugins", "libjanus_audiobridge.so"),
        ("plugins", "libjanus_streaming.so"),
        ("plugins", "libjanus_future.so"),
        ("plugins", "libjanus_future.so.1"),  # Janus loads only names ending in .so
        ("transports", "libjanus_http.so"),
        ("transports", "libjanus_webtransport.so"),
        ("events", "libjanus_newevh.so"),
    ]:
        (lib / kind).mkdir(parents=True, exist_ok=True)
        (lib / kind / name).touch()
    folder = tmp_path / "janus"
    write_config(ManagedJanusConfig(http_port=PORT), folder, lib_dir=lib)
    core = parse_file(folder / "janus.jcfg")
    assert "libjanus_future.so" in core["plugins"]["disable"].split(",")
    assert "libjanus_videoroom.so" in core["plugins"]["disable"].split(",")  # known, even when not installed
    assert "libjanus_webtransport.so" in core["transports"]["disable"].split(",")
    assert "libjanus_newevh.so" in core["events"]["disable"].split(",")
    assert config_problems(folder, lib) == []


def test_core_settings(tmp_path: Path) -> None:
    config = ManagedJanusConfig(http_port=PORT, event_loops=3, rtp_port_range=(21000, 21999))
    folder = written(tmp_path, config)
    general = parse_file(folder / "janus.jcfg")["general"]
    media = parse_file(folder / "janus.jcfg")["media"]
    assert general["api_secret"] == config.api_secret
    assert general["admin_secret"] not in (config.api_secret, config.admin_key, "janusoverlord")
    assert general["session_timeout"] == 60
    assert general["event_loops"] == 3
    assert general["token_auth"] is False
    assert general["configs_folder"] == str(folder)
    assert general["debug_level"] == 4
    assert "interface" not in general
    assert media == {"ipv6": False, "ipv6_linklocal": False, "rtp_port_range": "21000-21999"}


def test_event_loops_default_to_the_number_of_cores() -> None:
    assert ManagedJanusConfig().event_loops == os.cpu_count()


def test_http_transport_on_loopback_only_without_admin_api(tmp_path: Path) -> None:
    http = parse_file(written(tmp_path) / "janus.transport.http.jcfg")
    assert http["general"] == {
        "events": False,
        "json": "compact",
        "base_path": "/janus",
        "http": True,
        "port": PORT,
        "ip": "127.0.0.1",
        "acl": "127.0.0.1",
        "https": False,
    }
    assert http["admin"] == {"admin_http": False, "admin_https": False}


def test_plugins_need_the_admin_key_and_hold_no_sample_rooms(tmp_path: Path) -> None:
    config = ManagedJanusConfig(http_port=PORT, plugin_port_range=(41000, 41099))
    folder = written(tmp_path, config)
    bridge = parse_file(folder / "janus.plugin.audiobridge.jcfg")
    streaming = parse_file(folder / "janus.plugin.streaming.jcfg")
    assert list(bridge) == ["general"]
    assert list(streaming) == ["general"]
    assert bridge["general"]["admin_key"] == streaming["general"]["admin_key"] == config.admin_key
    assert bridge["general"]["lock_rtp_forward"] is True
    assert bridge["general"]["lock_play_file"] is True
    assert bridge["general"]["rtp_port_range"] == streaming["general"]["rtp_port_range"] == "41000-41099"


def test_nat_settings_for_a_test_namespace(tmp_path: Path) -> None:
    config = ManagedJanusConfig(http_port=PORT, interface="198.18.0.1", ice_enforce_list="salon0")
    core = parse_file(written(tmp_path, config) / "janus.jcfg")
    assert core["general"]["interface"] == "198.18.0.1"
    assert core["nat"]["ice_enforce_list"] == "salon0"


def test_the_folder_is_private_and_rewritten_at_every_start(tmp_path: Path) -> None:
    folder = written(tmp_path)
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: {}\n")
    (folder / "janus.jcfg").write_text("tampered")
    (folder / "janus.jcfg").chmod(0o644)
    folder.chmod(0o755)
    config = ManagedJanusConfig(http_port=PORT + 1)
    write_config(config, folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == sorted(CONFIG_FILES)
    for p in folder.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert parse_file(folder / "janus.jcfg")["general"]["api_secret"] == config.api_secret


@pytest.mark.parametrize("secret", ['quote"back\\slash', "new\nline\ttab\r\x01\x7f", "ünïcödé-🎙️-0123456789"])
def test_strings_are_escaped(secret: str, tmp_path: Path) -> None:
    config = ManagedJanusConfig(http_port=PORT, api_secret=secret * 2, admin_key=secret * 2)
    files = render_config(config, config_dir=tmp_path / 'odd "dir"', lib_dir=tmp_path, modules=JanusModules())
    assert parse(files["janus.jcfg"])["general"]["api_secret"] == secret * 2
    assert parse(files["janus.jcfg"])["general"]["configs_folder"] == str(tmp_path / 'odd "dir"')
    assert parse(files["janus.plugin.audiobridge.jcfg"])["general"]["admin_key"] == secret * 2


def test_rendering_is_pure() -> None:
    config = ManagedJanusConfig(http_port=PORT)
    args = {"config_dir": Path("/x"), "lib_dir": Path("/y"), "modules": JanusModules()}
    assert render_config(config, **args) == render_config(config, **args)  # type: ignore[arg-type]


def test_secrets_stay_out_of_repr() -> None:
    config = ManagedJanusConfig()
    assert config.api_secret not in repr(config)
    assert config.admin_key not in repr(config)
    assert config.api_secret != config.admin_key


def test_a_port_must_be_chosen_before_rendering() -> None:
    with pytest.raises(ValueError, match="http_port"):
        render_config(ManagedJanusConfig(), config_dir=Path("/x"), lib_dir=Path("/y"), modules=JanusModules())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"http_port": 70000}, "not a TCP port"),
        ({"api_secret": "short"}, "api_secret"),
        ({"admin_key": ""}, "admin_key"),
        ({"rtp_port_range": (30000, 20000)}, "rtp_port_range"),
        ({"rtp_port_range": (80, 90)}, "unprivileged"),
        ({"rtp_port_range": (20000, 40500)}, "overlap"),
        ({"event_loops": 0}, "event_loops"),
        ({"debug_level": 5}, "secrets"),
        ({"interface": "::1"}, "IPv4"),
        ({"interface": "not-an-ip"}, "does not appear to be an IPv4 or IPv6 address"),
        ({"ice_enforce_list": 'eth0" ; x'}, "ice_enforce_list"),
    ],
)
def test_invalid_settings_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ManagedJanusConfig(**changes)  # type: ignore[arg-type]


def test_the_managed_janus_lives_in_the_data_folder(tmp_path: Path) -> None:
    assert config_folder(tmp_path / "data") == tmp_path / "data" / "janus"
    # Janus runs inside that folder: the default data folder ("data", relative) must not be passed on as relative.
    assert config_folder(Path("data")) == Path.cwd() / "data" / "janus"
