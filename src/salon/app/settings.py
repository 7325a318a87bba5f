"""App layer: configuration — one validated object, built once at start-up from flags and ``SALON_*`` variables."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from salon.domain.audience_chunks import DEFAULT_POLICY, parse_policy
from salon.domain.text import is_id
from salon.domain.turn import SECRET_MIN_CHARS as TURN_SECRET_MIN_CHARS
from salon.domain.turn import TTL_MAX_S as TURN_TTL_MAX_S
from salon.domain.turn import TTL_MIN_S as TURN_TTL_MIN_S
from salon.domain.turn import check_ice_url

DEFAULT_SECRET = "change-me"  # noqa: S105 - the placeholder we refuse
PLAIN_MAX_LISTENERS = 12_000  # listeners per broadcast worker: docs/BENCHMARKS.md, "Broadcast tier"
TLS_MAX_LISTENERS = 6_000  # the same with TLS in the worker: "TLS on the listener connections"


def _check_janus_url(url: str, name: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{name} must be the http(s) URL of the Janus API, e.g. http://10.0.0.5:8088/janus")


def _listed(value: Any) -> Any:
    """A list setting as the environment gives it: a JSON list, or comma-separated."""
    if isinstance(value, str):
        return json.loads(value) if value.lstrip().startswith("[") else value.split(",")
    return value


class JanusNode(BaseModel):
    """One external Janus node: its API URL, its ``api_secret`` and its plugins' ``admin_key``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str
    api_secret: Annotated[str, Field(min_length=1, repr=False)]
    admin_key: Annotated[str, Field(min_length=1, repr=False)]

    @model_validator(mode="after")
    def _check(self) -> JanusNode:
        _check_janus_url(self.url, "a Janus node's url")
        return self


_HOSTNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")
_MANAGED_WORKER_NAME = re.compile(r"w\d+")  # what `salon serve` names its own workers


def _host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IP address, ``[v6]``, or a DNS name Janus resolves) with a port from 1 to 65535."""
    host, colon, port = text.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    host = host[1:-1] if bracketed else host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if bracketed or _HOSTNAME.fullmatch(host) is None:
            raise ValueError(f"rtp {text!r} is not HOST:PORT") from None
    if not colon or not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"rtp {text!r} needs a port from 1 to 65535")
    return host, int(port)


class BroadcastNodeSetting(BaseModel):
    """A broadcast worker Salon does not run (on another box: README): its name (as tickets name it),
    the URL listeners reach it at, its control API's URL, and ``rtp``, the ``HOST:PORT`` Janus forwards rooms to."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    public_url: str
    control_url: str
    rtp: str

    @model_validator(mode="after")
    def _check(self) -> BroadcastNodeSetting:
        if len(self.name) > 128 or not is_id(self.name) or _MANAGED_WORKER_NAME.fullmatch(self.name):
            raise ValueError(f"a broadcast node's name {self.name!r}: letters, digits, '-' and '_', not w<number>")
        for field_name, url in (("public_url", self.public_url), ("control_url", self.control_url)):
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"broadcast node {self.name}: {field_name} must be an http(s) URL")
        _host_port(self.rtp)
        return self

    @property
    def rtp_host(self) -> str:
        return _host_port(self.rtp)[0]

    @property
    def rtp_port(self) -> int:
        return _host_port(self.rtp)[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SALON_", extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    data_dir: Path = Path("data")
    database_url: str | None = None
    # Several instances (docs/DEPLOYMENT.md): the Redis they share live events through (redis://, rediss:// or
    # unix://). Unset: one instance, events fanned out in this process.
    redis_url: str | None = None
    public_url: str = ""
    dev: bool = False
    secret_key: str = ""
    secret_key_file: Path | None = None

    invites_per_member: Annotated[int, Field(ge=0, le=1000)] = 2
    invite_ttl_days: Annotated[int, Field(ge=1, le=365)] = 10
    session_days: Annotated[int, Field(ge=1, le=365)] = 30
    room_capacity: Annotated[int, Field(ge=2, le=100_000)] = 5000
    audience_batch_threshold: Annotated[int, Field(ge=1)] = 200
    event_window: Annotated[int, Field(ge=10)] = 1000
    ws_queue_size: Annotated[int, Field(ge=8)] = 256
    ws_messages_per_second: Annotated[int, Field(ge=1)] = 20
    # Presence (docs/ARCHITECTURE.md): a member whose last live connection closed leaves their rooms after
    # presence_grace_s unless they come back or act in the room; one with no live connection leaves a room they
    # have not acted in for presence_idle_s (an HTTP-only client).
    presence_grace_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    presence_idle_s: Annotated[float, Field(gt=0, le=86_400)] = 600.0
    # An invitation up that a listener leaves unanswered lapses after this (docs/ARCHITECTURE.md, "Rooms and the
    # stage"); the presence sweep finds the lapsed ones, so it takes effect within one sweep (≤ 5 s) of it.
    stage_invite_ttl_s: Annotated[float, Field(gt=0, le=86_400)] = 120.0
    login_failures_per_minute: Annotated[int, Field(ge=1)] = 10
    invites_per_hour: Annotated[int, Field(ge=1)] = 30
    avatar_max_bytes: Annotated[int, Field(ge=1024)] = 2 * 1024 * 1024
    extra_origins: Annotated[list[str], NoDecode] = []  # more origins allowed to call the API (JSON or a,b)
    # The reverse proxies whose X-Forwarded-For is believed (addresses or CIDRs, comma-separated or a JSON list);
    # none: the connecting peer is the client (web/client_address.py).
    trusted_proxies: Annotated[list[IPv4Network | IPv6Network], NoDecode] = []
    # An external Janus node (which must stay private: docs/ARCHITECTURE.md, "Running Janus"), or several in
    # SALON_JANUS_NODES (a JSON list of {url, api_secret, admin_key}); neither: `salon serve` runs its own.
    janus_nodes: list[JanusNode] = []
    janus_url: str = ""
    janus_api_secret: Annotated[str, Field(repr=False)] = ""
    janus_admin_key: Annotated[str, Field(repr=False)] = ""
    # The managed Janus only: the IPv4 address it announces in SDP (one of this host's; behind a NAT, see
    # SALON_JANUS_NAT_1_1 below), and the interfaces ICE may use (comma-separated names or addresses). Unset: Janus's
    # own choice.
    janus_interface: str | None = None
    janus_ice_enforce_list: str | None = None
    # The audience tiers (docs/ARCHITECTURE.md, "Media plane"). Listeners whose browser can decode Opus itself get
    # the broadcast tier (Salon's own workers: the stage's mix as the same bytes to everyone over HTTP) unless the
    # policy is "webrtc"; the stage, and clients without WebCodecs, use WebRTC through Janus.
    audience_tier: Literal["broadcast", "webrtc"] = "broadcast"
    # Broadcast workers `salon serve` runs beside the managed Janus (0: none; default one per core), the port of the
    # first (0: any free port; the others take the next ones), and the URL listeners reach worker {name} at (unset:
    # http://<host>:<its port>; behind a proxy e.g. "https://salon.example/broadcast/{name}").
    broadcast_workers: Annotated[int, Field(ge=0, le=64)] = Field(default_factory=lambda: os.cpu_count() or 1)
    broadcast_port: Annotated[int, Field(ge=0, le=65535)] = 0
    broadcast_public_url: str = ""
    # Listeners one broadcast worker takes before it refuses more (room_full, or the next worker); measured in
    # docs/BENCHMARKS.md. Unset, it is 12,000, or 6,000 when the workers terminate TLS (TLS costs ~1.7-1.9x per
    # listener: 6,000 TLS listeners keep one worker near 80 % of a core, so a bigger room spreads over the others).
    broadcast_max_listeners: Annotated[int, Field(ge=1, le=1_000_000)] = PLAIN_MAX_LISTENERS
    # Chunk length by the worker's listener count ("up to N listeners: M ms, ..."): the lever is writes per
    # listener-second (docs/BENCHMARKS.md, "Broadcast tier").
    broadcast_chunks: str = DEFAULT_POLICY
    # TLS in the workers themselves (PEM certificate chain and unencrypted key, both or neither): their listeners'
    # ports speak HTTPS, and the default stream URL becomes https://<SALON_PUBLIC_URL's host>:<port>.
    broadcast_tls_cert: Path | None = None
    broadcast_tls_key: Path | None = None
    # Broadcast workers on other boxes (SALON_BROADCAST_NODES, a JSON list of {name, public_url, control_url, rtp}),
    # beside the managed ones; the only ones with external Janus nodes. Their forwards are SRTP (README).
    broadcast_nodes: list[BroadcastNodeSetting] = []
    # WebRTC listeners one Janus node takes before it refuses more (~1,000 a 2-core box: docs/BENCHMARKS.md).
    webrtc_listeners_per_node: Annotated[int, Field(ge=1, le=1_000_000)] = 800
    # Listeners of one room who may take its per-speaker mix (each stage speaker on a track of their own, so they set
    # each one's volume): each receives every track, 5 streams (docs/BENCHMARKS.md, "Per-speaker mix").
    speaker_mix_max_listeners: Annotated[int, Field(ge=1, le=100_000)] = 100
    # Backups (`salon backup`, and the one taken before migrations; docs/DEPLOYMENT.md section 6): the folder
    # (unset: <data_dir>/backups) and how many archives it keeps, oldest removed first.
    backup_dir: Path | None = None
    backup_keep: Annotated[int, Field(ge=1, le=10_000)] = 5
    # Observability (docs/DEPLOYMENT.md, 5): the client networks /metrics answers (addresses or CIDRs, comma-separated
    # or a JSON list; the client as web/client_address.py resolves it behind trusted proxies), and a bearer token it
    # also asks for when set. `salon serve`'s log format: text, or json (one object per line, with the request id).
    metrics_allow: Annotated[list[IPv4Network | IPv6Network], NoDecode] = [
        IPv4Network("127.0.0.0/8"),
        IPv6Network("::1/128"),
    ]
    metrics_token: Annotated[str, Field(repr=False)] = ""
    log_format: Literal["text", "json"] = "text"
    # NAT (docs/DEPLOYMENT.md, 3), the managed Janus only: the public IPv4 address(es) of a 1:1 NAT (a cloud VM's
    # elastic IP; comma-separated), put in ICE candidates in place of the private ones (or beside them with
    # SALON_JANUS_KEEP_PRIVATE_HOST, for clients on the same private network); or a STUN server (HOST:PORT) Janus
    # asks for its public address when it is not known in advance.
    janus_nat_1_1: Annotated[list[IPv4Address], NoDecode] = []
    janus_keep_private_host: bool = False
    stun_server: str | None = None

    # TURN (docs/DEPLOYMENT.md, 3; domain/turn.py): off, managed (`salon serve` runs a locked-down coturn on
    # turn_listen_ip:turn_port, UDP and TCP, relaying from turn_relay_ports) or external (your coturn at turn_urls,
    # with use-auth-secret and turn_secret). Default off: a relay opens public ports the firewall must let through.
    # turn_urls (comma-separated turn:/turns: URIs) is what clients are told; managed, unset, it is
    # turn:<public host>:<turn_port> over UDP and TCP. turn_secret unset: derived from the app's secret (managed).
    # stun_urls go to clients in any mode. Members get credentials valid turn_ttl_s seconds.
    turn: Literal["off", "managed", "external"] = "off"
    turn_urls: Annotated[list[str], NoDecode] = []
    turn_secret: Annotated[str, Field(repr=False)] = ""
    turn_ttl_s: Annotated[int, Field(ge=TURN_TTL_MIN_S, le=TURN_TTL_MAX_S)] = 3600
    turn_listen_ip: str = "0.0.0.0"  # noqa: S104 - a relay is reached from the internet by design
    turn_port: Annotated[int, Field(ge=1, le=65535)] = 3478
    turn_relay_ports: str = "49160-49999"
    stun_urls: Annotated[list[str], NoDecode] = []
    # TURN over TLS on the managed coturn (turns:<public host>:<port>?transport=tcp; 443 gets through most
    # firewalls): the port, and a PEM certificate chain and unencrypted key, all three or none.
    turn_tls_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    turn_tls_cert: Path | None = None
    turn_tls_key: Path | None = None
    # The media servers the managed coturn may relay to inside the private ranges it denies (IP addresses,
    # comma-separated or a JSON list): Janus's media addresses, nothing else. Unset: SALON_JANUS_INTERFACE and the
    # IP-literal hosts of the external Janus nodes' URLs (`turn_peers`); a node known by name, or whose media
    # address differs from its API's, must be listed here (`salon doctor` warns).
    turn_media_peers: Annotated[list[IPv4Address | IPv6Address], NoDecode] = []

    @field_validator("turn_media_peers", mode="before")
    @classmethod
    def _parse_media_peers(cls, value: Any) -> Any:
        value = _listed(value)
        if isinstance(value, list):
            try:  # one address each: a range or a name would re-open a network, or resolve to who knows what
                return [ipaddress.ip_address(str(v).strip()) for v in value if str(v).strip()]
            except ValueError as exc:
                raise ValueError(f"SALON_TURN_MEDIA_PEERS: {exc} (IP addresses, comma-separated)") from None
        return value

    @property
    def turn_peers(self) -> list[str]:
        """The addresses the managed coturn re-allows: SALON_TURN_MEDIA_PEERS, or what the Janus settings say."""
        if self.turn_media_peers:
            return [str(a) for a in self.turn_media_peers]
        hosts = [urlsplit(node.url).hostname or "" for node in self.external_janus_nodes]
        if self.managed_janus and self.janus_interface:
            hosts.append(self.janus_interface)
        peers: list[str] = []
        for host in hosts:
            try:
                address = str(ipaddress.ip_address(host))
            except ValueError:  # a name: its address is not ours to guess (the doctor resolves it and warns)
                continue
            if address not in peers:
                peers.append(address)
        return peers

    @field_validator("janus_nat_1_1", mode="before")
    @classmethod
    def _parse_nat(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            try:  # strict: a name or a CIDR here would be put in SDP as is and break every call
                return [IPv4Address(str(v)) for v in value]
            except ValueError as exc:
                raise ValueError(f"SALON_JANUS_NAT_1_1: {exc} (IPv4 addresses, comma-separated)") from None
        return value

    @field_validator("stun_server")
    @classmethod
    def _check_stun(cls, value: str | None) -> str | None:
        if value is not None:
            host, colon, port = value.rpartition(":")
            if not colon or _HOSTNAME.fullmatch(host) is None or not port.isdigit() or not 1 <= int(port) <= 65535:
                raise ValueError(f"SALON_STUN_SERVER {value!r} is not HOST:PORT (e.g. stun.example.net:3478)")
        return value

    @property
    def stun_host_port(self) -> tuple[str, int] | None:
        if self.stun_server is None:
            return None
        host, _, port = self.stun_server.rpartition(":")
        return host, int(port)

    @field_validator("extra_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: Any) -> Any:
        value = _listed(value)
        return [str(v).strip() for v in value if str(v).strip()] if isinstance(value, list) else value

    @field_validator("trusted_proxies", "metrics_allow", mode="before")
    @classmethod
    def _parse_networks(cls, value: Any, info: ValidationInfo) -> Any:
        value = _listed(value)
        if isinstance(value, list):
            try:  # strict: "10.0.0.5/8" is a typo for an address or a network, refused rather than guessed
                return [ipaddress.ip_network(str(v).strip()) for v in value if str(v).strip()]
            except ValueError as exc:
                raise ValueError(f"SALON_{(info.field_name or '').upper()}: {exc}") from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if not value:  # SALON_REDIS_URL= (empty) is unset
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("SALON_REDIS_URL must start with redis://, rediss:// or unix://")
        return value

    @field_validator("turn_urls", "stun_urls", mode="before")
    @classmethod
    def _parse_ice_urls(cls, value: Any, info: ValidationInfo) -> Any:
        value = _listed(value)
        if isinstance(value, list):
            try:
                turn = info.field_name == "turn_urls"
                return [check_ice_url(str(v).strip(), turn=turn) for v in value if str(v).strip()]
            except ValueError as exc:
                raise ValueError(f"SALON_{(info.field_name or '').upper()}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _check_turn(self) -> Settings:
        if self.turn == "external" and not (self.turn_urls and self.turn_secret):
            raise ValueError("SALON_TURN=external needs SALON_TURN_URLS and SALON_TURN_SECRET (its static-auth-secret)")
        if self.turn_secret and len(self.turn_secret) < TURN_SECRET_MIN_CHARS:
            raise ValueError("SALON_TURN_SECRET must be at least 32 characters")
        low, _, high = self.turn_relay_ports.partition("-")
        if not (low.isdigit() and high.isdigit() and 1024 <= int(low) <= int(high) <= 65535):
            raise ValueError("SALON_TURN_RELAY_PORTS must be a range like 49160-49999 (1024..65535)")
        ipaddress.ip_address(self.turn_listen_ip)
        tls = (self.turn_tls_port, self.turn_tls_cert, self.turn_tls_key)
        if any(v is not None for v in tls) and any(v is None for v in tls):
            raise ValueError("SALON_TURN_TLS_PORT, SALON_TURN_TLS_CERT and SALON_TURN_TLS_KEY go together")
        return self

    @field_validator("broadcast_chunks")
    @classmethod
    def _check_chunks(cls, value: str) -> str:
        try:
            parse_policy(value)
        except ValueError as exc:
            raise ValueError(f"SALON_BROADCAST_CHUNKS: {exc}") from None
        return value

    @model_validator(mode="after")
    def _check_broadcast_tls(self) -> Settings:
        # Only that the files are there and readable: what they hold is checked by the workers, which load them
        # (a bad pair stops them at start with the reason on stderr).
        files = {"SALON_BROADCAST_TLS_CERT": self.broadcast_tls_cert, "SALON_BROADCAST_TLS_KEY": self.broadcast_tls_key}
        if sum(path is None for path in files.values()) == 1:
            raise ValueError("SALON_BROADCAST_TLS_CERT and SALON_BROADCAST_TLS_KEY go together: set both or neither")
        for name, path in files.items():
            try:
                if path is not None:
                    path.open("rb").close()
            except OSError as exc:
                raise ValueError(f"{name}: {str(path)!r} cannot be read: {exc.strerror or exc}") from None
        if self.broadcast_tls_cert is not None and "broadcast_max_listeners" not in self.model_fields_set:
            object.__setattr__(self, "broadcast_max_listeners", TLS_MAX_LISTENERS)
        return self

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.secret_key_file is not None and not self.secret_key:
            object.__setattr__(self, "secret_key", self.secret_key_file.read_text().strip())
        placeholder = self.secret_key == DEFAULT_SECRET or (self.secret_key and len(self.secret_key) < 32)
        if placeholder and not self.dev:
            raise ValueError("SALON_SECRET_KEY is a placeholder or shorter than 32 characters; set a real secret")
        if self.janus_url and self.janus_nodes:
            raise ValueError("set SALON_JANUS_URL (one node) or SALON_JANUS_NODES (several), not both")
        if self.janus_url:
            _check_janus_url(self.janus_url, "SALON_JANUS_URL")
            if not (self.janus_api_secret and self.janus_admin_key):
                raise ValueError("SALON_JANUS_URL needs SALON_JANUS_API_SECRET and SALON_JANUS_ADMIN_KEY")
        elif self.janus_api_secret or self.janus_admin_key:
            raise ValueError(
                "SALON_JANUS_API_SECRET and SALON_JANUS_ADMIN_KEY are for an external Janus: set SALON_JANUS_URL"
            )
        names = [node.name for node in self.broadcast_nodes]
        if len(set(names)) != len(names):
            raise ValueError("SALON_BROADCAST_NODES: every node needs its own name")
        if self.janus_keep_private_host and not self.janus_nat_1_1:
            raise ValueError("SALON_JANUS_KEEP_PRIVATE_HOST needs SALON_JANUS_NAT_1_1")
        if not self.public_url:
            object.__setattr__(self, "public_url", f"http://{self.host}:{self.port}")
        return self

    @property
    def managed_janus(self) -> bool:
        """True when Salon runs its own Janus (no external node configured)."""
        return not self.external_janus_nodes

    @property
    def external_janus_nodes(self) -> list[JanusNode]:
        if self.janus_url:
            return [JanusNode(url=self.janus_url, api_secret=self.janus_api_secret, admin_key=self.janus_admin_key)]
        return list(self.janus_nodes)

    @property
    def https(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def allowed_origins(self) -> set[str]:
        return {self.public_url.rstrip("/"), *(o.rstrip("/") for o in self.extra_origins)}

    @property
    def backups_dir(self) -> Path:
        return self.backup_dir if self.backup_dir is not None else self.data_dir / "backups"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'salon.db'}"

    def resolved_secret(self) -> str:
        """The secret key; when none is configured, one generated on first start and kept in the data folder."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
