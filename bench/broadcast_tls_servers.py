"""Broadcast bench, the TLS servers: the TLS bar, nginx in front of the node, the test certificate, the kTLS probe.

``bench/broadcast_tls.py`` measures these beside ``broadcast_servers.Node`` and ``Bar`` (same interface: ``pid``,
``listen``, ``rtp``, ``counts``, ``stop``; ``pids`` when more than one process serves; ``tls`` when the listeners
must speak TLS). The certificate is a throw-away self-signed P-256 one made with the ``openssl`` CLI in the bench's
temporary folder; the load client does not verify it.
"""

from __future__ import annotations

import contextlib
import errno
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from broadcast_servers import HOST, Bar, Node
from fanout import BenchError, Child, cpu_seconds

BENCH_DIR = Path(__file__).resolve().parent
TCP_ULP = getattr(socket, "TCP_ULP", 31)


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed ECDSA P-256 certificate for 127.0.0.1 (its own CA), valid one day: (cert, key)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise BenchError("no openssl CLI (Debian: apt-get install openssl)")
    cert, key = folder / "bench-cert.pem", folder / "bench-key.pem"
    argv = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603 - the system openssl
    if done.returncode != 0:
        raise BenchError(f"openssl req failed: {done.stderr}")
    return cert, key


def tls_probe(port: int) -> str:
    """One handshake with Python's ssl: the protocol and suite the server picked (no request is sent)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((HOST, port), timeout=10.0) as raw, context.wrap_socket(raw) as tls:
        cipher = tls.cipher()
        return f"{tls.version()} {cipher[0] if cipher else '?'}"


def ktls_available() -> str:
    """Whether this kernel offers the ``tls`` upper-layer protocol (what kTLS needs), and how that was seen."""
    ulps = Path("/proc/sys/net/ipv4/tcp_available_ulp").read_text().split()
    with socket.create_server((HOST, 0)) as server, socket.create_connection(server.getsockname()) as client:
        try:
            client.setsockopt(socket.IPPROTO_TCP, TCP_ULP, b"tls")
            tried = "setsockopt(TCP_ULP, 'tls') succeeded"
        except OSError as exc:
            tried = f"setsockopt(TCP_ULP, 'tls') failed: {errno.errorcode.get(exc.errno or 0, exc.errno)}"
    return f"tcp_available_ulp = {' '.join(ulps) or '(none)'}; {tried}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class TransportBar(Bar):
    """``bench/broadcast_tls_bar.py``: the bar's loop with ``transport.write``, TLS when given a certificate; read
    and stopped as the plain bar is."""

    def __init__(self, logs: Path, tag: str, *, chunk_ms: int, cert: Path | None, key: Path | None) -> None:
        argv = [sys.executable, str(BENCH_DIR / "broadcast_tls_bar.py"), "--chunk-ms", str(chunk_ms)]
        if cert is not None and key is not None:
            argv += ["--cert", str(cert), "--key", str(key)]
        self.tls = cert is not None
        self.child = Child(f"{tag}-tbar", argv, logs / f"{tag}-tbar.log")
        self.pid = self.child.pid
        ready = self.child.expect("ready", 30.0)
        self.listen, self.rtp = int(ready["listen"]), int(ready["rtp"])


NGINX_CONF = """\
worker_processes 1;
worker_rlimit_nofile {files};
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections {connections}; multi_accept on; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    server {{
        listen {host}:{port}{ssl} backlog=4096;
        {certificate}
        ssl_protocols TLSv1.3;
        location / {{
            proxy_pass http://{host}:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }}
    }}
}}
"""


class Fronted:
    """The node behind nginx (one worker): nginx takes the listeners' connections (TLS 1.3 when given a
    certificate) and opens one HTTP/1.1 connection per listener to the node, passing the chunked body through
    unbuffered (``proxy_buffering off``). The CPU and RSS measured are the node's plus nginx's (master + worker)."""

    kind = "node"

    def __init__(
        self, node: Node, logs: Path, tag: str, *, listeners: int, cert: Path | None, key: Path | None
    ) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            raise BenchError("no nginx (Debian: apt-get install --no-install-recommends nginx-light)")
        self.node = node
        self.tls = cert is not None
        self.pid = node.pid
        self.rtp = node.rtp
        self.listen = free_port()
        folder = logs / f"{tag}-nginx"
        folder.mkdir()
        files = min(4 * listeners + 2000, resource.getrlimit(resource.RLIMIT_NOFILE)[1])  # nginx may not raise it
        certificate = f"ssl_certificate {cert}; ssl_certificate_key {key};" if cert is not None else ""
        conf = NGINX_CONF.format(
            files=files, connections=4 * listeners + 1000, folder=folder, host=HOST,
            port=self.listen, ssl=" ssl" if cert is not None else "", certificate=certificate, upstream=node.listen,
        )  # fmt: skip
        (folder / "nginx.conf").write_text(conf)
        argv = [nginx, "-p", str(folder), "-e", str(folder / "nginx-error.log"), "-c", str(folder / "nginx.conf")]
        self.child = Child(f"{tag}-nginx", [*argv, "-g", "daemon off;"], logs / f"{tag}-nginx.log")
        deadline = time.monotonic() + 20.0
        while True:
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.listen), timeout=1.0):
                break
            if time.monotonic() > deadline or self.child.proc.poll() is not None:
                error_log = (folder / "nginx-error.log").read_text(errors="replace")[-2000:]
                raise BenchError(f"nginx did not listen on {self.listen}:\n{self.child.tail()}\n{error_log}")
            time.sleep(0.1)
        children = Path(f"/proc/{self.child.pid}/task/{self.child.pid}/children").read_text().split()
        self.pids = [node.pid, self.child.pid, *(int(pid) for pid in children)]
        self._cpu_ms = (0, 0)

    def counts(self, room_id: str) -> dict[str, int]:
        """The node's counts, and the node's and nginx's CPU (ms) since the previous call: ``Bench.measure`` asks
        right before and right after its window, so the second answer splits the window's CPU between them."""
        node_ms = round(1000 * cpu_seconds(self.node.pid))
        front_ms = round(1000 * sum(cpu_seconds(pid) for pid in self.pids[1:]))
        split = {"node_cpu_ms": node_ms - self._cpu_ms[0], "nginx_cpu_ms": front_ms - self._cpu_ms[1]}
        self._cpu_ms = (node_ms, front_ms)
        return self.node.counts(room_id) | split

    def stop(self) -> dict[str, Any]:
        outcome = self.node.stop()
        if self.child.proc.poll() is None:
            self.child.proc.send_signal(signal.SIGTERM)  # nginx's fast shutdown: the worker closes and exits
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.child.proc.wait(timeout=10.0)
        self.child.stop(grace=5.0)
        return outcome

    def tail(self) -> str:
        return self.node.tail() + "\n" + self.child.tail()
