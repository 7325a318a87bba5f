"""Test support: throw-away TLS material made in the test (``cryptography``, pinned in constraints.txt through
aiortc) — a self-signed certificate for 127.0.0.1 and its key as PEM files, and a client context that trusts only
that certificate."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        """Verifies the server against this certificate alone (name included), as a browser would against its CAs."""
        context = ssl.create_default_context(cafile=str(self.cert))
        context.set_alpn_protocols(["http/1.1"])
        return context


def self_signed(
    folder: Path, *, name: str = "node", host: str = "127.0.0.1", password: bytes | None = None
) -> CertFiles:
    """An ECDSA P-256 certificate for ``host`` (its own CA), valid one day, and its key (encrypted with ``password``
    if given), written to ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    encryption = serialization.NoEncryption() if password is None else serialization.BestAvailableEncryption(password)
    files = CertFiles(folder / f"{name}-cert.pem", folder / f"{name}-key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    files.key.chmod(0o600)
    return files
