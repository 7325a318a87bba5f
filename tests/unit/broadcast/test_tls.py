"""``salon.broadcast.tls``: the listeners' port's context — handshakes against it in memory (TLS 1.3, or 1.2 for a
client that stops there; ALPN http/1.1 and nothing else), and a clear ``TlsError`` for every file it cannot use."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from salon.broadcast.tls import TlsError, server_context
from tests.support.tls import CertFiles, self_signed


@pytest.fixture
def files(tmp_path: Path) -> CertFiles:
    return self_signed(tmp_path)


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> tuple[ssl.SSLObject, ssl.SSLObject]:
    """Both ends of one handshake over memory BIOs, done."""
    pipes = [ssl.MemoryBIO() for _ in range(4)]  # client→server, server→client
    c = client.wrap_bio(pipes[1], pipes[0], server_hostname="127.0.0.1")
    s = server.wrap_bio(pipes[0], pipes[1], server_side=True)
    done = {"c": False, "s": False}
    for _ in range(10):
        for name, end in (("c", c), ("s", s)):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        if all(done.values()):
            return c, s
    raise AssertionError("the handshake did not finish")


def test_a_client_that_trusts_the_certificate_completes_a_handshake(files: CertFiles) -> None:
    context = server_context(files.cert, files.key)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    client, server = handshake(context, files.client_context())
    assert (client.version(), client.selected_alpn_protocol()) == ("TLSv1.3", "http/1.1")
    assert server.selected_alpn_protocol() == "http/1.1"


def test_a_tls_1_2_client_is_served(files: CertFiles) -> None:
    client_context = files.client_context()
    client_context.maximum_version = ssl.TLSVersion.TLSv1_2
    client, _ = handshake(server_context(files.cert, files.key), client_context)
    assert client.version() == "TLSv1.2"
    cipher = client.cipher()
    assert cipher is not None
    assert cipher[0].startswith("ECDHE-ECDSA-")  # forward secret


def test_the_node_never_agrees_to_another_protocol(files: CertFiles) -> None:
    client_context = files.client_context()
    client_context.set_alpn_protocols(["h2"])
    client, server = handshake(server_context(files.cert, files.key), client_context)
    assert (client.selected_alpn_protocol(), server.selected_alpn_protocol()) == (None, None)


def test_missing_and_unreadable_files(files: CertFiles, tmp_path: Path) -> None:
    with pytest.raises(TlsError, match=r"^--tls-cert '.*nowhere.pem' cannot be read: No such file or directory$"):
        server_context(tmp_path / "nowhere.pem", files.key)
    with pytest.raises(TlsError, match=r"^--tls-key '.*' cannot be read: Is a directory$"):
        server_context(files.cert, tmp_path)


def test_files_that_are_not_pem(files: CertFiles, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    for cert, key in ((junk, files.key), (files.cert, junk), (files.key, files.key)):
        with pytest.raises(TlsError, match="are not a PEM certificate chain and its private key"):
            server_context(cert, key)


def test_a_key_of_another_certificate(files: CertFiles, tmp_path: Path) -> None:
    other = self_signed(tmp_path, name="other")
    with pytest.raises(TlsError, match=r"^--tls-key '.*other-key.pem' is not the private key of --tls-cert"):
        server_context(files.cert, other.key)


def test_an_encrypted_key_is_refused_without_a_prompt(tmp_path: Path) -> None:
    files = self_signed(tmp_path, password=b"passphrase")
    with pytest.raises(TlsError, match=r"^--tls-key '.*' is encrypted: give the node an unencrypted private key"):
        server_context(files.cert, files.key)
