"""docs/DEPLOYMENT.md section 2's certificate steps, run as written, against an ACME CA in a network namespace.

In a namespace the test makes (198.18.0.1 on a non-loopback interface): pebble, Let's Encrypt's ACME test server,
with a DNS answer ``salon.test`` → 198.18.0.1 (tests/support/acme.py); ``salon serve`` with the settings of
section 2; nginx on ports 80 and 443, first as Debian's default site (a webroot on port 80), then with what
``salon proxy-config`` prints for certbot's certificate. certbot is Debian's, run as the section says, plus only
what a test needs: the CA's URL (``--server``), its folders in tmp, ``--non-interactive`` and, for pebble's own
HTTPS, ``REQUESTS_CA_BUNDLE``. The deploy hook is ``nginx -s reload`` for the test's nginx: what
``systemctl reload nginx`` runs (Debian's nginx.service, ExecReload).

Checked: the first certificate is issued through the default site's webroot; through the new configuration,
https://salon.test serves Salon's page with a certificate that chains to pebble's root (and only through the
intermediate certbot saved), http redirects to https while ``/.well-known/acme-challenge/`` still answers from the
webroot, and ``certbot renew --force-renewal`` (no hook on its command line: the one saved at the first run) passes
a fresh HTTP-01 challenge through that port-80 server, after which nginx serves the new certificate: the hook ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
from cryptography import x509

from tests.support.acme import running_acme
from tests.support.browser import running_salon
from tests.support.https_proxy import NGINX, nginx_test_config, running_nginx
from tests.support.netns import ADDRESS, network_namespace

DOMAIN: Final = "salon.test"
CERTBOT: Final = Path("/usr/bin/certbot")
SETTINGS: Final = {
    "SALON_PUBLIC_URL": f"https://{DOMAIN}",
    "SALON_TRUSTED_PROXIES": "127.0.0.1",
    "SALON_PORT": "8000",  # the namespace is the test's own: fixed ports cannot collide with anything
    "SALON_BROADCAST_PORT": "8100",
    "SALON_BROADCAST_WORKERS": "1",
}
COMMAND_TIMEOUT_S: Final = 60.0
RELOAD_TIMEOUT_S: Final = 10.0
SCENARIO_TIMEOUT_S: Final = 150.0


def default_site(webroot: Path) -> str:
    """Debian nginx's default site (/etc/nginx/sites-enabled/default) as far as certbot's first run sees it: port 80
    serving the webroot (/var/www/html there)."""
    return f"server {{\n    listen 80 default_server;\n    root {webroot};\n    server_name _;\n}}\n"


@dataclass(frozen=True)
class Folders:
    webroot: Path
    nginx: Path  # the test's nginx: its main configuration, pid file and logs
    letsencrypt: Path  # certbot's --config-dir (/etc/letsencrypt on a server)
    certbot: Path  # its --work-dir and --logs-dir

    @property
    def reload(self) -> str:
        """``systemctl reload nginx`` for the test's nginx: a SIGHUP to its master (pid file in its configuration),
        which rereads the configuration and the certificate files."""
        return f"{NGINX} -e {self.nginx / 'error.log'} -p {self.nginx} -c {self.nginx / 'nginx.conf'} -s reload"

    @property
    def live(self) -> Path:
        return self.letsencrypt / "live" / DOMAIN


def folders(tmp_path: Path) -> Folders:
    found = Folders(tmp_path / "www", tmp_path / "nginx", tmp_path / "letsencrypt", tmp_path / "certbot")
    found.webroot.mkdir()
    found.certbot.mkdir()
    return found


def proxy_config(f: Folders) -> str:
    """``salon proxy-config`` (the console script) with the server's settings, certbot's files and webroot."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALON_")} | SETTINGS
    script = Path(sys.executable).with_name("salon")
    files = ["--cert", str(f.live / "fullchain.pem"), "--key", str(f.live / "privkey.pem"), "--webroot", str(f.webroot)]
    done = subprocess.run([str(script), "proxy-config", *files], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def run(argv: list[str], env: dict[str, str] | None = None) -> str:
    """``argv`` from the namespace's thread (so in the namespace); its output, or an AssertionError with it."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT_S)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = out.decode(errors="replace")
    assert process.returncode == 0, f"{argv[:3]} exited {process.returncode}:\n{text[-3000:]}"
    return text


def certbot(f: Folders, *args: str) -> list[str]:
    """certbot with the test's additions: its folders in tmp (root's /etc/letsencrypt on a server) and no prompt."""
    assert CERTBOT.exists(), f"{CERTBOT} is missing: run scripts/install-system-deps.sh (Debian's certbot)"
    dirs = ["--config-dir", f.letsencrypt, "--work-dir", f.certbot, "--logs-dir", f.certbot]
    return [str(CERTBOT), *args, *map(str, dirs), "--non-interactive"]


def served_certificate(trust: Path) -> x509.Certificate:
    """The certificate nginx presents for salon.test on 443, verified against ``trust`` alone (hostname checked)."""
    context = ssl.create_default_context(cafile=str(trust))
    with (
        socket.create_connection((ADDRESS, 443), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=DOMAIN) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def leaf(fullchain: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificates(fullchain.read_bytes())[0]


def wait_until_served(expected: x509.Certificate, trust: Path) -> x509.Certificate | None:
    """What 443 serves once it is ``expected``, else the last seen: a reload takes effect when nginx's new workers
    start (and 443 opens, the first time), a moment after ``nginx -s reload`` returns."""
    deadline = time.monotonic() + RELOAD_TIMEOUT_S
    served = None
    while served != expected and time.monotonic() < deadline:
        with contextlib.suppress(ConnectionRefusedError):  # not a TLS error: those fail the test at once
            served = served_certificate(trust)
        time.sleep(0.1)
    return served


@dataclass
class Seen:
    first: x509.Certificate | None = None  # issued by certonly
    served_first: x509.Certificate | None = None
    page: tuple[int, str] = (0, "")
    redirect: tuple[int, str | None] = (0, None)
    challenge: tuple[int, str] = (0, "")
    renewal_conf: str = ""
    renewed: x509.Certificate | None = None
    served_renewed: x509.Certificate | None = None
    renewal_requests: str = ""  # nginx's access log while certbot renewed


async def scenario(f: Folders, tmp_path: Path) -> Seen:
    seen = Seen()
    with running_acme(tmp_path / "acme", ADDRESS, {DOMAIN: ADDRESS}) as ca:
        bundle = {"REQUESTS_CA_BUNDLE": str(ca.tls_ca)}  # pebble's API certificate; Let's Encrypt's needs none
        with running_nginx(default_site(f.webroot), f.nginx, port=80) as nginx:
            # Section 2: "sudo certbot certonly --webroot -w /var/www/html -d salon.example --deploy-hook ...".
            first = ["certonly", "--webroot", "-w", str(f.webroot), "-d", DOMAIN, "--deploy-hook", f.reload]
            first += ["--agree-tos", "-m", f"admin@{DOMAIN}", "--server", ca.directory]
            await run(certbot(f, *first), bundle)
            seen.first = leaf(f.live / "fullchain.pem")
            seen.renewal_conf = (f.letsencrypt / "renewal" / f"{DOMAIN}.conf").read_text()

            # Section 2: salon proxy-config into nginx's configuration (in place of the default site), nginx -t, reload.
            check = nginx_test_config(proxy_config(f), f.nginx)
            assert check.returncode == 0, check.stderr
            await run(f.reload.split())
            seen.served_first = wait_until_served(seen.first, ca.root)

            trust = ssl.create_default_context(cafile=str(ca.root))
            sni = {"sni_hostname": DOMAIN}
            (f.webroot / ".well-known" / "acme-challenge").mkdir(parents=True, exist_ok=True)
            (f.webroot / ".well-known" / "acme-challenge" / "probe").write_text("from the webroot\n")
            async with httpx.AsyncClient(verify=trust, trust_env=False, timeout=10, headers={"Host": DOMAIN}) as http:
                page = await http.get(f"https://{ADDRESS}/welcome", extensions=sni)
                seen.page = (page.status_code, page.text)
                redirect = await http.get(f"http://{ADDRESS}/rooms?x=1")
                seen.redirect = (redirect.status_code, redirect.headers.get("location"))
                challenge = await http.get(f"http://{ADDRESS}/.well-known/acme-challenge/probe")
                seen.challenge = (challenge.status_code, challenge.text)

            # What certbot's timer runs (the hook is the one saved by certonly), forced: the certificate is new.
            logged = len(nginx.access_log())
            await run(certbot(f, "renew", "--force-renewal", "--no-random-sleep-on-renew"), bundle)
            seen.renewal_requests = nginx.access_log()[logged:]
            seen.renewed = leaf(f.live / "fullchain.pem")
            seen.served_renewed = wait_until_served(seen.renewed, ca.root)
    return seen


def test_certbot_gets_and_renews_the_certificate_nginx_serves_salon_with(tmp_path: Path) -> None:
    f = folders(tmp_path)
    with network_namespace("salon-acme") as ns, running_salon(ns, tmp_path, SETTINGS) as server:
        started = time.monotonic()
        seen = ns.run(lambda: scenario(f, tmp_path), timeout=SCENARIO_TIMEOUT_S)
        print(f"\ncertbot: issued, proxied and renewed in {time.monotonic() - started:.1f} s")
        # pebble, its DNS, nginx and certbot are gone; only the server and its media plane may still run.
        leftovers = ns.pids() - {server.pid} - server.media_pids()
        assert not leftovers, f"processes left in the namespace: {sorted(leftovers)}"
    assert seen.first is not None
    assert seen.renewed is not None
    # The first certificate, for salon.test, is what nginx serves once reloaded with proxy-config's configuration,
    # and it chains to pebble's root (served_certificate verifies against that root alone).
    for cert in (seen.first, seen.renewed):
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == [DOMAIN]
    assert seen.served_first == seen.first
    assert seen.page[0] == 200
    assert "<title>Salon</title>" in seen.page[1], seen.page[1][:500]
    assert seen.redirect == (301, f"https://{DOMAIN}/rooms?x=1")
    assert seen.challenge == (200, "from the webroot\n")
    # The renewal: certbot saved the hook, passed a fresh challenge through the port-80 server of proxy-config's
    # configuration (pebble's request in nginx's log), and the hook made nginx serve the new certificate.
    assert f"renew_hook = {f.reload}" in seen.renewal_conf, seen.renewal_conf
    assert seen.renewed.serial_number != seen.first.serial_number
    assert '"GET /.well-known/acme-challenge/' in seen.renewal_requests, seen.renewal_requests
    assert " 200 " in seen.renewal_requests.split("acme-challenge/", 1)[1].splitlines()[0], seen.renewal_requests
    assert seen.served_renewed == seen.renewed
