"""Test support: an ACME certificate authority in a network namespace, standing in for Let's Encrypt.

``running_acme(workdir, address, names)`` runs, in the calling thread's network namespace (call it from
``NetNamespace.run``), Debian's ``pebble`` (Let's Encrypt's ACME test server: RFC 8555, its own throwaway root and
intermediate, real HTTP-01 validation) on ``address`` and, beside it, ``pebble-challtestsrv`` (same package) as
the DNS server pebble asks: it answers ``A`` for exactly the ``names`` given (``salon.test`` → the server's
address), so validation goes over TCP to whatever listens on port 80 there, as Let's Encrypt's would.

pebble's own API is HTTPS too: its certificate comes from ``local_ca`` (tests/support/https_proxy.py), and a client
trusts it through ``AcmeCA.tls_ca`` (certbot: ``REQUESTS_CA_BUNDLE``). The root pebble issues from is fetched from
its management API into ``AcmeCA.root``: a site certificate that chains to it came from this ACME run. Both
processes are stopped by PID when the block ends (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from tests.support.https_proxy import local_ca

PEBBLE: Final = Path("/usr/bin/pebble")
CHALLTESTSRV: Final = Path("/usr/bin/pebble-challtestsrv")  # shipped in Debian's pebble package
ACME_PORT: Final = 14000
MANAGEMENT_PORT: Final = 15000
DNS_PORT: Final = 8053
DNS_MANAGEMENT: Final = ("127.0.0.1", 8055)  # challtestsrv's own API: only the test talks to it
START_TIMEOUT_S: Final = 15.0
STOP_TIMEOUT_S: Final = 5.0
PEBBLE_ENV: Final = {
    "PEBBLE_VA_NOSLEEP": "1",  # validate at once (pebble otherwise waits up to 15 s, as a busy CA might)
    "PEBBLE_WFE_NONCEREJECT": "0",  # no deliberately refused nonces: one certbot run, one outcome
    "PEBBLE_AUTHZREUSE": "0",  # every order is validated afresh: a renewal must pass the challenge again
}


@dataclass(frozen=True)
class AcmeCA:
    directory: str  # the ACME directory URL (certbot --server)
    tls_ca: Path  # what pebble's own HTTPS certificate chains to (REQUESTS_CA_BUNDLE)
    root: Path  # the root pebble issues site certificates from (PEM)
    log: Path  # pebble's output


def _answers(address: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=0.5):
        return True
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT_S)


@contextlib.contextmanager
def _started(argv: list[str], log: Path, address: str, port: int, env: Mapping[str, str]) -> Iterator[None]:
    """``argv`` running (its output in ``log``) once ``address:port`` accepts connections; stopped at the end."""
    if not Path(argv[0]).exists():
        raise RuntimeError(f"{argv[0]} is missing: run scripts/install-system-deps.sh (Debian's pebble)")
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env},
            start_new_session=True,  # stopped by its PID (and its group) only
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(address, port):
            if process.poll() is not None or time.monotonic() > deadline:
                output = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{argv[0]} did not listen on {address}:{port} ({process.poll()}):\n{output}")
            time.sleep(0.05)
        yield
    finally:
        _stop(process)


@contextlib.contextmanager
def running_acme(workdir: Path, address: str, names: Mapping[str, str]) -> Iterator[AcmeCA]:
    """pebble on ``address`` (ACME on 14000, management on 15000), resolving each of ``names`` to its address
    through challtestsrv's DNS on ``address``:8053 (the only names it knows); call inside the namespace."""
    workdir.mkdir(parents=True)
    tls = local_ca(workdir, address)  # pebble's API is reached by address: an IP in its certificate
    config = workdir / "pebble-config.json"
    config.write_text(
        json.dumps(
            {
                "pebble": {
                    "listenAddress": f"{address}:{ACME_PORT}",
                    "managementListenAddress": f"{address}:{MANAGEMENT_PORT}",
                    "certificate": str(tls.cert),
                    "privateKey": str(tls.key),
                    "httpPort": 80,  # HTTP-01 is checked where Let's Encrypt checks it
                    "tlsPort": 443,
                    "ocspResponderURL": "",
                    "externalAccountBindingRequired": False,
                }
            }
        )
    )
    dns = [
        str(CHALLTESTSRV),
        "-dns01", f"{address}:{DNS_PORT}",
        "-management", ":".join(map(str, DNS_MANAGEMENT)),
        # Nothing else: no challenge responders of its own (nginx answers HTTP-01), no default answer for names
        # the test did not give.
        "-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv4", "", "-defaultIPv6", "",
    ]  # fmt: skip
    pebble = [str(PEBBLE), "-config", str(config), "-dnsserver", f"{address}:{DNS_PORT}"]
    with _started(dns, workdir / "challtestsrv.log", *DNS_MANAGEMENT, env={}):
        with httpx.Client(base_url=f"http://{DNS_MANAGEMENT[0]}:{DNS_MANAGEMENT[1]}", trust_env=False) as http:
            for name, ip in names.items():
                http.post("/add-a", json={"host": name, "addresses": [ip]}).raise_for_status()
        with _started(pebble, workdir / "pebble.log", address, ACME_PORT, env=PEBBLE_ENV):
            trust = ssl.create_default_context(cafile=str(tls.ca_cert))
            with httpx.Client(verify=trust, trust_env=False, timeout=10) as http:
                root = http.get(f"https://{address}:{MANAGEMENT_PORT}/roots/0")
            root.raise_for_status()
            (workdir / "pebble-root.pem").write_text(root.text)
            yield AcmeCA(
                directory=f"https://{address}:{ACME_PORT}/dir",
                tls_ca=tls.ca_cert,
                root=workdir / "pebble-root.pem",
                log=workdir / "pebble.log",
            )
