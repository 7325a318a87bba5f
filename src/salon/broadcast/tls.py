"""Broadcast layer: TLS for the listeners' port — the server-side ``ssl.SSLContext`` made from ``--tls-cert`` and
``--tls-key``, checked once at start-up so a bad file stops the node with a message instead of failing every
handshake later.

TLS 1.2 is the minimum (not 1.3 only): every browser that can use the broadcast tier (it needs WebCodecs)
negotiates 1.3 anyway, so allowing 1.2 costs those nothing, and it keeps TLS-inspecting proxies that still speak
1.2 working; Python's default server context already limits 1.2 to forward-secret suites with AEAD or SHA-2 MACs.
ALPN offers ``http/1.1`` only: the node speaks nothing else.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import NoReturn

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
ALPN = ["http/1.1"]


class TlsError(ValueError):
    """The certificate or key cannot be used; the message says which file and why."""


def _encrypted_key() -> NoReturn:
    # Without this callback OpenSSL would prompt on the terminal for a passphrase (a supervised process has none).
    raise TlsError("is encrypted: give the node an unencrypted private key (readable only by its user)")


def _check_readable(path: Path, what: str) -> None:
    try:
        with path.open("rb") as file:
            file.read(1)
    except OSError as exc:
        raise TlsError(f"{what} {str(path)!r} cannot be read: {exc.strerror or exc}") from None


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context with ``cert`` (a PEM chain, the server's certificate first) and its ``key`` (PEM);
    ``TlsError`` with a readable message for a missing, unreadable, invalid or mismatched file."""
    _check_readable(cert, "--tls-cert")
    _check_readable(key, "--tls-key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = MINIMUM_VERSION
    context.set_alpn_protocols(ALPN)
    try:
        context.load_cert_chain(cert, key, password=_encrypted_key)
    except TlsError as exc:
        raise TlsError(f"--tls-key {str(key)!r} {exc}") from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise TlsError(f"--tls-key {str(key)!r} is not the private key of --tls-cert {str(cert)!r}") from None
        reason = exc.reason or exc.strerror or str(exc)
        raise TlsError(
            f"--tls-cert {str(cert)!r} and --tls-key {str(key)!r} are not a PEM certificate chain and its private"
            f" key ({reason})"
        ) from None
    return context
