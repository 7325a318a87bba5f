"""Throwaway PostgreSQL servers for tests.

``throwaway_postgres()`` runs ``initdb`` into a fresh temporary directory, starts a
private ``postgres`` listening only on 127.0.0.1 (free port, Unix socket inside the
temp dir, durability switched off for speed), creates the ``salon_test`` database and
yields a :class:`PostgresServer`. On exit the server is shut down in immediate mode
and the directory removed. Nothing depends on, or touches, the system cluster.

Binaries come from Debian's ``/usr/lib/postgresql/<version>/bin`` (highest version);
``scripts/install-system-deps.sh`` installs them. ``SALON_TEST_PG_BINDIR`` overrides
the location.

``initdb`` and ``postgres`` refuse to run as root, so when the tests run as root
they are started as the ``postgres`` system user (created by Debian's package), with
the temp dir (under /tmp) owned by that user. The client program (psql) runs
as the current user; they connect over TCP with a password.

Usage::

    with throwaway_postgres() as pg:
        engine = create_async_engine(pg.url())
        create_database(pg, "salon_test_rooms")
        other = pg.url(database="salon_test_rooms")
        ...
        drop_database(pg, "salon_test_rooms")
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = [
    "DEFAULT_DATABASE",
    "SUPERUSER",
    "PostgresServer",
    "PostgresStartError",
    "PostgresUnavailableError",
    "create_database",
    "drop_database",
    "find_postgres_bindir",
    "throwaway_postgres",
]

SUPERUSER = "salon"
DEFAULT_DATABASE = "salon_test"
HOST = "127.0.0.1"

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
CLIENT_TIMEOUT_S = 30.0

_DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
_BINDIR_ENV = "SALON_TEST_PG_BINDIR"
_SYSTEM_USER_WHEN_ROOT = "postgres"
_PORT_ATTEMPTS = 3
_LOCALE = "C.UTF-8"

# Test-speed settings: none of this data needs to survive a crash.
_SERVER_SETTINGS: Mapping[str, str] = {
    "listen_addresses": HOST,
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "logging_collector": "off",
    "log_min_messages": "warning",
}


class PostgresUnavailableError(RuntimeError):
    """PostgreSQL binaries (or the ``postgres`` system user) are not installed."""


class PostgresStartError(RuntimeError):
    """The throwaway server could not be initialised or started."""


@dataclasses.dataclass(frozen=True)
class PostgresServer:
    """Connection details of a running throwaway server (superuser credentials)."""

    host: str
    port: int
    user: str
    password: str = dataclasses.field(repr=False)
    database: str
    # Implementation details, exposed for helpers and for tests of this module.
    bindir: Path = dataclasses.field(repr=False, compare=False)
    base_dir: Path = dataclasses.field(repr=False, compare=False)
    pid: int = dataclasses.field(repr=False, compare=False)

    @property
    def log_path(self) -> Path:
        return self.base_dir / "postgres.log"

    def url(self, driver: str = "postgresql+asyncpg", *, database: str | None = None) -> str:
        """SQLAlchemy URL; ``driver="postgresql"`` gives a libpq/asyncpg DSN."""
        db = self.database if database is None else database
        return (
            f"{driver}://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(db, safe='')}"
        )


def find_postgres_bindir() -> Path:
    """Directory holding initdb/postgres/psql: env override, else Debian's newest."""
    override = os.environ.get(_BINDIR_ENV)
    if override:
        bindir = Path(override)
        if not (bindir / "postgres").is_file():
            raise PostgresUnavailableError(f"{_BINDIR_ENV}={override} has no postgres binary")
        return bindir
    candidates: list[tuple[tuple[int, ...], Path]] = []
    if _DEBIAN_PG_ROOT.is_dir():
        for child in _DEBIAN_PG_ROOT.iterdir():
            bindir = child / "bin"
            try:
                version = tuple(int(part) for part in child.name.split("."))
            except ValueError:
                continue
            if all((bindir / prog).is_file() for prog in ("postgres", "initdb", "psql")):
                candidates.append((version, bindir))
    if not candidates:
        raise PostgresUnavailableError(
            f"no PostgreSQL server binaries under {_DEBIAN_PG_ROOT}/<version>/bin; "
            "run scripts/install-system-deps.sh (or set " + _BINDIR_ENV + ")"
        )
    return max(candidates)[1]


def create_database(server: PostgresServer, name: str, *, template: str | None = None) -> None:
    """``CREATE DATABASE name`` (owned by the superuser, UTF8, from ``template`` or template1)."""
    suffix = f" TEMPLATE {_quote_ident(template)}" if template else ""
    _psql(server, f"CREATE DATABASE {_quote_ident(name)}{suffix}")


def drop_database(server: PostgresServer, name: str) -> None:
    """``DROP DATABASE IF EXISTS name``, terminating any sessions still connected."""
    _psql(server, f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[PostgresServer]:
    """Start a private PostgreSQL server for the duration of the ``with`` block."""
    bindir = find_postgres_bindir()
    run_as = _run_as_user()
    base_dir = _make_base_dir(run_as)
    proc: subprocess.Popen[bytes] | None = None
    try:
        password = secrets.token_urlsafe(18)
        data_dir = base_dir / "data"
        _initdb(bindir, base_dir, data_dir, password, run_as)
        proc, port = _start(bindir, base_dir, data_dir, run_as)
        server = PostgresServer(
            host=HOST,
            port=port,
            user=SUPERUSER,
            password=password,
            database=DEFAULT_DATABASE,
            bindir=bindir,
            base_dir=base_dir,
            pid=proc.pid,
        )
        create_database(server, DEFAULT_DATABASE)
        yield server
    finally:
        try:
            if proc is not None:
                _stop(proc)
        finally:
            shutil.rmtree(base_dir, ignore_errors=True)


# --------------------------------------------------------------------------- internals


@dataclasses.dataclass(frozen=True)
class _RunAs:
    uid: int
    gid: int

    def popen_kwargs(self) -> dict[str, Any]:
        # Popen switches user in the child before exec: no runuser/su wrapper process,
        # so the Popen object *is* the postmaster and signals/waits go straight to it.
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _run_as_user() -> _RunAs | None:
    """``None``: run as ourselves. Root: the ``postgres`` system user."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(_SYSTEM_USER_WHEN_ROOT)
    except KeyError:
        raise PostgresUnavailableError(
            f"running as root, but there is no {_SYSTEM_USER_WHEN_ROOT!r} system user to run "
            "initdb/postgres as (Debian's postgresql package creates it)"
        ) from None
    return _RunAs(uid=entry.pw_uid, gid=entry.pw_gid)


def _make_base_dir(run_as: _RunAs | None) -> Path:
    if run_as is None:
        return Path(tempfile.mkdtemp(prefix="salon-pg-"))
    # As root, TMPDIR may point somewhere the postgres user cannot reach; /tmp is
    # world-traversable on any sane system, but check rather than assume.
    base_dir = Path(tempfile.mkdtemp(prefix="salon-pg-", dir="/tmp"))
    try:
        for parent in base_dir.parents:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                raise PostgresStartError(f"{parent} is not traversable by the postgres user")
        os.chown(base_dir, run_as.uid, run_as.gid)
        base_dir.chmod(0o700)
    except BaseException:
        shutil.rmtree(base_dir, ignore_errors=True)
        raise
    return base_dir


def _server_env(run_as: _RunAs | None) -> dict[str, str]:
    # Stray PG* variables (PGDATA, PGPORT, PGOPTIONS, PGPASSWORD...) must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = _LOCALE
    if run_as is not None:
        env["HOME"] = pwd.getpwuid(run_as.uid).pw_dir
        env["USER"] = env["LOGNAME"] = _SYSTEM_USER_WHEN_ROOT
    return env


def _initdb(bindir: Path, base_dir: Path, data_dir: Path, password: str, run_as: _RunAs | None) -> None:
    pwfile = base_dir / "pwfile"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    if run_as is not None:
        os.chown(pwfile, run_as.uid, run_as.gid)
    cmd = [
        str(bindir / "initdb"),
        f"--pgdata={data_dir}",
        f"--username={SUPERUSER}",
        f"--pwfile={pwfile}",
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        f"--locale={_LOCALE}",
        "--no-sync",
        "--no-instructions",
    ]
    try:
        result = subprocess.run(
            cmd,
            cwd=base_dir,
            env=_server_env(run_as),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S * 2,
            check=False,
            **(run_as.popen_kwargs() if run_as else {}),
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise PostgresStartError(f"initdb failed (exit {result.returncode}):\n{result.stdout}{result.stderr}".rstrip())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _start(bindir: Path, base_dir: Path, data_dir: Path, run_as: _RunAs | None) -> tuple[subprocess.Popen[bytes], int]:
    """Start the postmaster and wait until it accepts connections; retries port races."""
    log_path = base_dir / "postgres.log"
    for attempt in range(1, _PORT_ATTEMPTS + 1):
        port = _free_port()
        settings = {**_SERVER_SETTINGS, "port": str(port), "unix_socket_directories": str(base_dir)}
        cmd = [str(bindir / "postgres"), "-D", str(data_dir)]
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        with open(log_path, "ab") as log:
            log_offset = log.tell()
            proc = subprocess.Popen(
                cmd,
                cwd=base_dir,
                env=_server_env(run_as),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own session: a terminal Ctrl-C reaches pytest (which then stops us
                # cleanly) instead of racing it by shutting the server down itself.
                start_new_session=True,
                **(run_as.popen_kwargs() if run_as else {}),
            )
        try:
            _wait_ready(proc, port, data_dir, log_path, log_offset)
        except _PortInUseError:
            _reap(proc)
            if attempt == _PORT_ATTEMPTS:
                raise PostgresStartError(
                    f"port races: {_PORT_ATTEMPTS} free ports were taken before postgres bound them\n"
                    + _log_tail(log_path)
                ) from None
            continue
        except BaseException:
            _stop(proc)
            raise
        return proc, port
    raise AssertionError("unreachable")


class _PortInUseError(Exception):
    pass


def _wait_ready(proc: subprocess.Popen[bytes], port: int, data_dir: Path, log_path: Path, log_offset: int) -> None:
    """Wait until *our* postmaster reports "ready" in postmaster.pid (as ``pg_ctl -w`` does).

    Probing the port instead (pg_isready) could be answered by whoever else holds it if
    we lost a port race; the pid file cannot.
    """
    deadline = time.monotonic() + START_TIMEOUT_S
    pid_file = data_dir / "postmaster.pid"
    while True:
        if proc.poll() is not None:
            with open(log_path, "rb") as fh:
                fh.seek(log_offset)
                this_attempt = fh.read().decode(errors="replace")
            if "could not create any TCP/IP sockets" in this_attempt:
                raise _PortInUseError
            raise PostgresStartError(
                f"postgres exited with status {proc.returncode} during startup\n" + _log_tail(log_path)
            )
        try:
            lines = pid_file.read_text().splitlines()
        except FileNotFoundError:
            lines = []
        # Lines: pid, datadir, start time, port, socket dir, listen address, shmem key, status.
        if len(lines) >= 8 and lines[0].strip() == str(proc.pid) and lines[7].strip() == "ready":
            if lines[3].strip() != str(port):
                raise PostgresStartError(f"postgres reports port {lines[3].strip()}, expected {port}")
            return
        if time.monotonic() > deadline:
            raise PostgresStartError(
                f"postgres did not become ready on {HOST}:{port} within {START_TIMEOUT_S:.0f}s\n" + _log_tail(log_path)
            )
        time.sleep(0.02)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Immediate shutdown (what ``pg_ctl stop -m immediate`` does: SIGQUIT), then reap."""
    if proc.poll() is None:
        # As root we may signal the postgres-owned postmaster; as ourselves, trivially.
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGQUIT)
    _reap(proc)


def _reap(proc: subprocess.Popen[bytes]) -> None:
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        # Backends notice postmaster death and exit on their own.
        proc.kill()
        proc.wait()


def _log_tail(log_path: Path, lines: int = 40) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except OSError as exc:
        return f"(no server log: {exc})"
    tail = "\n".join(text.splitlines()[-lines:])
    return f"--- last {lines} lines of {log_path} ---\n{tail}"


def _client_env(password: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSWORD"] = password
    env["PGCONNECT_TIMEOUT"] = "10"
    return env


def _quote_ident(name: str) -> str:
    if not name or "\x00" in name:
        raise ValueError(f"invalid database name: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def _psql(server: PostgresServer, sql: str, *, database: str = "postgres") -> None:
    cmd: Sequence[str] = [
        str(server.bindir / "psql"),
        "--no-psqlrc",
        "--quiet",
        "--set=ON_ERROR_STOP=1",
        f"--host={server.host}",
        f"--port={server.port}",
        f"--username={server.user}",
        f"--dbname={database}",
        f"--command={sql}",
    ]
    result = subprocess.run(
        cmd,
        env=_client_env(server.password),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"psql {sql!r} failed (exit {result.returncode}): {result.stderr.strip()}")
