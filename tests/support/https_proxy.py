"""Test support: HTTPS the way a deployment has it, with a local CA standing in for a public one.

* ``local_ca(folder, domain)`` makes a CA and a certificate for ``domain`` it signs (``cryptography``), as PEM files.
* ``trusting_home(folder, ca)`` makes a HOME whose NSS database (``$HOME/.pki/nssdb``, what Chromium on Linux reads
  for locally trusted roots) trusts that CA, with Debian's ``certutil``: Chromium started with that HOME trusts the
  site the proper way, with no certificate-error or insecure-origin flag.
* ``running_nginx(conf, workdir)`` runs ``/usr/sbin/nginx`` in the foreground with an http-context snippet (what
  ``salon proxy-config`` prints) inside a minimal main configuration whose files all live in ``workdir``; call it
  in a network namespace the test made (it listens on 80 and 443 there). On exit nginx is stopped by PID (SIGQUIT,
  then SIGKILL) and its workers with it.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NGINX: Final = Path("/usr/sbin/nginx")
CERTUTIL: Final = Path("/usr/bin/certutil")
START_TIMEOUT_S: Final = 15.0
STOP_TIMEOUT_S: Final = 10.0


@dataclass(frozen=True)
class LocalCA:
    ca_cert: Path
    cert: Path  # the site's certificate followed by nothing else: the CA is the trust anchor, not in the chain
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _subject_alt_name(domain: str) -> x509.GeneralName:
    # An IP literal (a TURN server reached by address) is named as an IP, which is what TLS clients check it against.
    try:
        return x509.IPAddress(ipaddress.ip_address(domain))
    except ValueError:
        return x509.DNSName(domain)


def local_ca(folder: Path, domain: str) -> LocalCA:
    """A CA valid a day and a server certificate for ``domain`` it signed (ECDSA P-256), written to ``folder``."""
    now = datetime.datetime.now(datetime.UTC)
    valid = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Salon test CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(domain))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.SubjectAlternativeName([_subject_alt_name(domain)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = LocalCA(folder / "ca.pem", folder / f"{domain}.pem", folder / f"{domain}-key.pem")
    files.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    files.key.chmod(0o600)
    return files


def trusting_home(folder: Path, ca_cert: Path) -> Path:
    """A HOME (``folder``) whose NSS database trusts ``ca_cert`` to identify web sites (certutil trust ``C,,``)."""
    if not CERTUTIL.exists():
        raise RuntimeError(f"{CERTUTIL} is missing: run scripts/install-system-deps.sh (Debian's libnss3-tools)")
    nssdb = folder / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    db = f"sql:{nssdb}"
    subprocess.run([CERTUTIL, "-N", "-d", db, "--empty-password"], check=True, capture_output=True, timeout=30)
    subprocess.run(
        [CERTUTIL, "-A", "-d", db, "-n", "Salon test CA", "-t", "C,,", "-i", ca_cert],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return folder


def _main_conf(workdir: Path, snippet: Path) -> str:
    # Everything nginx writes stays in workdir; workers run as root, the only user that can reach the test's
    # private temporary folders (this nginx is confined to a namespace the test made, and dies with it).
    temp = "\n".join(
        f"    {kind}_temp_path {workdir / (kind + '_temp')};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        "user root;\n"
        "worker_processes 1;\n"
        f"pid {workdir / 'nginx.pid'};\n"
        f"error_log {workdir / 'error.log'} info;\n"
        "events { worker_connections 512; }\n"
        "http {\n"
        f"    access_log {workdir / 'access.log'};\n"
        f"{temp}\n"
        f"    include {snippet};\n"
        "}\n"
    )


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    workdir: Path

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.workdir / "error.log").read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def access_log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.workdir / "access.log").read_text(errors="replace")
        return ""

    def stop(self) -> None:
        """SIGQUIT (graceful: the master waits for its workers), then SIGKILL to the whole process group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT_S)


def nginx_test_config(snippet: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on ``snippet`` in the test's main configuration (it binds no port); its result."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "salon.conf").write_text(snippet)
    main = workdir / "nginx.conf"
    main.write_text(_main_conf(workdir, workdir / "salon.conf"))
    return subprocess.run(
        [NGINX, "-t", "-q", "-e", workdir / "error.log", "-p", workdir, "-c", main],
        capture_output=True,
        text=True,
        timeout=30,
    )


@contextlib.contextmanager
def running_nginx(snippet: str, workdir: Path, *, port: int = 443) -> Iterator[Nginx]:
    """nginx serving ``snippet`` (an http-context configuration) until the block ends; call inside the namespace."""
    if not NGINX.exists():
        raise RuntimeError(f"{NGINX} is missing: run scripts/install-system-deps.sh (Debian's nginx)")
    check = nginx_test_config(snippet, workdir)
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t refused the configuration:\n{check.stderr}")
    main = workdir / "nginx.conf"
    with (workdir / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen(
            [NGINX, "-e", workdir / "error.log", "-p", workdir, "-c", main, "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            start_new_session=True,  # its own process group: the workers are stopped with the master
        )  # fmt: skip
    nginx = Nginx(process, workdir)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(port):
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited ({process.returncode}):\n{nginx.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not listen on {port} within {START_TIMEOUT_S:g} s:\n{nginx.log_tail()}")
            time.sleep(0.05)
        yield nginx
    finally:
        nginx.stop()
