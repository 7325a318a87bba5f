"""Test support: the end-to-end browser harness — ``salon serve`` as a real process and headless Chromium driven by
Playwright, both inside a private network namespace, with real sound measured in the page.

Layers, each usable alone:

* ``running_salon(ns, workdir)`` starts ``salon serve`` (the console script, a fresh data folder, its own managed
  Janus announcing 198.18.0.1) inside the namespace, waits until it answers HTTP, captures the one-time admin invite
  it prints on an empty database, and on exit stops it by PID (SIGTERM, then SIGKILL) and kills any Janus left
  with its config folder.
* ``SalonApi`` seeds data over the public HTTP API from inside the namespace: the admin from that invite, members
  from invites the admin creates, rooms. ``log_in`` puts a member's session cookie into a Playwright context.
* ``launch_browser`` starts one Chromium per person (each needs its own fake microphone: Chromium reads the
  ``--use-file-for-fake-audio-capture`` WAV once per process), its output in a log file beside the test's data.
* ``PROBE_JS`` (installed in every page of a context from ``new_context``) taps every audio track the page plays —
  remote WebRTC tracks, and streams set on a media element (the broadcast tier's player) — into a Web Audio
  ``AnalyserNode``; ``hears`` / ``until_deaf`` / ``stays_deaf`` poll it. The
  ``inbound-rtp`` audioLevel stat reads 0 in headless Chromium, so sound is judged from the decoded audio itself
  (docs/ARCHITECTURE.md, "Testing real audio"). The thresholds come from measurements, noted by ``HEARD_DB``.
* ``snap`` saves screenshots under ``test-artifacts/screenshots/`` (kept by CI as an artifact).

Everything that talks to the server — httpx, Playwright and the browsers it spawns — must run inside the namespace:
call it from a coroutine given to ``NetNamespace.run``. Playwright objects belong to the event loop that made them,
so one ``run`` holds a scenario's whole browser session.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import numpy as np
from playwright.async_api import Browser, BrowserContext, Page, Playwright

from salon.adapters.janus.config import config_folder
from salon.client.audio import sine, write_wav
from tests.support.janus import broadcast_pids, is_alive, janus_pids
from tests.support.netns import ADDRESS, INTERFACE, NetNamespace

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "DESKTOP",
    "HEARD_ABOVE_FLOOR_DB",
    "HEARD_DB",
    "PHONE",
    "PROBE_JS",
    "SCREENSHOTS",
    "SILENT_ABOVE_FLOOR_DB",
    "SILENT_BELOW_PEAK_DB",
    "SILENT_DB",
    "Device",
    "Member",
    "SalonApi",
    "SalonServer",
    "audible",
    "hears",
    "launch_browser",
    "log_in",
    "new_context",
    "probe_levels",
    "probed_context",
    "quiet",
    "running_salon",
    "snap",
    "stays_deaf",
    "until_deaf",
    "write_mic",
]

CHROMIUM: Final = Path("/usr/bin/chromium")
REPO_ROOT: Final = Path(__file__).resolve().parents[2]
SCREENSHOTS: Final = REPO_ROOT / "test-artifacts" / "screenshots"
API: Final = "/api/v1"
SERVE_START_TIMEOUT_S: Final = 60.0
SERVE_STOP_TIMEOUT_S: Final = 15.0
HTTP_TIMEOUT_S: Final = 15.0
POLL_S: Final = 0.05
# Every seeded account gets this password: strong enough for zxcvbn, never a real secret (a throwaway server).
PASSWORD: Final = "correct-horse-battery-staple-e2e"

# Levels read by the probe: ``AnalyserNode.getFloatFrequencyData`` (dB; 0 dB = a full-scale sine; -Infinity is
# reported as -200), fftSize 4096 at 48 kHz (11.7 Hz bins, an 85 ms window). ``level(hz)`` is the loudest bin within
# ±20 Hz of ``hz``, ``floor`` the median bin from 100 Hz to 4 kHz. Measured through salon serve and Janus with a fake
# microphone playing a 0.3-amplitude sine (2-core machine, load average 8):
#   tone, no voice processing (the harness's own speak)       -24 dB, floor about -130 dB
#   tone, Chromium's default processing (the web app's)       -43.5 dB (a steady 19.5 dB cut), floor -136 dB
#   a frequency nobody sends, 220 Hz from a tone              -90 to -118 dB
#   ... during a burst of packet loss under load              up to -55 dB, but then the floor rises too (-75 dB)
#   ... as a tone starts (its onset splatters)                -69 dB 220 Hz away, 44 dB under the tone
#   a 440 Hz tone's second harmonic (880 Hz) through Opus,
#   under the load of a full test run                          -71 dB, 34 dB under the tone (a CI run, 2026-11-22)
#   the speaker muted (true digital silence)                  -200 dB; a speaker hearing itself: -145 dB
# So a tone is heard when it is loud and stands far above the spectrum's median (a loss burst is broadband); a
# frequency is quiet when it is low, does not stand out, or is only the skirt of a much louder tone.
HEARD_DB: Final = -60.0
HEARD_ABOVE_FLOOR_DB: Final = 40.0
SILENT_DB: Final = -80.0
SILENT_ABOVE_FLOOR_DB: Final = 25.0
SILENT_BELOW_PEAK_DB: Final = 30.0  # a heard tone is within a few dB of the others; a harmonic is ≥ 30 dB under

# Chromium's flags, beside the ones Playwright always passes (--headless, --no-sandbox, --mute-audio,
# --disable-background-networking, --disable-component-update, --disable-sync, --no-first-run, ...).
# docs/ARCHITECTURE.md ("Testing real audio") says which ones this machine needs: no GPU, no QUIC, and nothing that
# might reach beyond the namespace.
CHROMIUM_ARGS: Final = (
    "--disable-gpu",
    "--disable-quic",
    "--no-proxy-server",  # a proxy from the environment must never see the test's traffic
    "--use-fake-ui-for-media-stream",  # getUserMedia is granted without a prompt ...
    "--use-fake-device-for-media-stream",  # ... and answered by a fake device reading the WAV below
)
# Not passed, on purpose (both measured here):
# * --disable-features=WebRtcHideLocalIpsWithMdns. Chromium hides host addresses behind mDNS names only in pages
#   without media permission, and the fake UI above grants it to every page, listeners who never open the microphone
#   included: they offer 198.18.0.1. (Without the fake UI such a page gathers no candidate at all in the namespace,
#   which has no default route.) The flag would also replace Playwright's own --disable-features list.
# * --autoplay-policy=no-user-gesture-required. An AudioContext made without a user gesture starts suspended, as it
#   does for people; the app starts playback from a click, and Playwright's clicks and evaluate() are gestures.


# --- salon serve -----------------------------------------------------------------------------------------------


@dataclass
class SalonServer:
    """A running ``salon serve``: its base URL (the namespace's 127.0.0.1), process, data folder and log."""

    base_url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    admin_invite_code: str
    started_in_s: float = 0.0
    killed: bool = False  # SIGTERM did not stop it in time

    @property
    def pid(self) -> int:
        return self.process.pid

    def janus_pids(self) -> set[int]:
        return janus_pids(config_folder(self.data_dir))

    def media_pids(self) -> set[int]:
        """The processes ``salon serve`` runs for the media plane: its Janus and its broadcast workers."""
        return self.janus_pids() | broadcast_pids(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def stop(self) -> None:
        """SIGTERM (uvicorn's graceful shutdown, which stops the managed Janus), then SIGKILL; then any Janus still
        running with this data folder's config, and any broadcast worker it had started, is killed by PID."""
        workers = broadcast_pids(self.pid)
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(SERVE_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    self.killed = True
                    self.process.kill()
                    self.process.wait(SERVE_STOP_TIMEOUT_S)
        finally:
            for pid in self.janus_pids() | {w for w in workers if is_alive(w)}:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _serve_command() -> list[str]:
    # The console script installed beside this interpreter: what `make run` runs.
    script = Path(sys.executable).with_name("salon")
    if not script.exists():
        raise RuntimeError(f"{script} is missing: install the project (`make install`)")
    return [str(script), "serve"]


def _free_port() -> int:
    """A free TCP port on 127.0.0.1 — the loopback of the namespace this is called in."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_INVITE_LINE = re.compile(r"^\s*(\S+/invite/(\S+))\s*$", re.MULTILINE)


async def _start_salon(workdir: Path, settings: dict[str, str] | None = None) -> SalonServer:
    """Start ``salon serve`` from the calling (namespace) thread and wait until it answers HTTP; ``settings``
    (``SALON_*`` variables) are added to the harness's own."""
    started = time.monotonic()
    data_dir = workdir / "salon-data"
    data_dir.mkdir(parents=True)
    log_path = workdir / "salon-serve.log"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALON_")}
    env.update(
        SALON_DATA_DIR=str(data_dir),
        SALON_HOST="127.0.0.1",
        SALON_PORT=str(port),
        SALON_DEV="1",
        SALON_SECRET_KEY=secrets.token_urlsafe(48),
        SALON_JANUS_INTERFACE=ADDRESS,
        SALON_JANUS_ICE_ENFORCE_LIST=INTERFACE,
        # Seeding creates invites faster than a person would (the default is 30 an hour).
        SALON_INVITES_PER_HOUR="1000",
        PYTHONUNBUFFERED="1",  # the invite line must reach the log before uvicorn starts, not at exit
    )
    env.update(settings or {})
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, waited on by PID at stop
            _serve_command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=workdir
        )
    base_url = f"http://127.0.0.1:{env['SALON_PORT']}"
    server = SalonServer(base_url, process, data_dir, log_path, admin_invite_code="")
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=2.0, trust_env=False) as http:
            deadline = time.monotonic() + SERVE_START_TIMEOUT_S
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"salon serve exited ({process.returncode}):\n{server.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    # 401 without a session: the app (and its lifespan, which starts Janus) is up.
                    if (await http.get(f"{API}/auth/session")).status_code == 401:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"salon serve did not answer within {SERVE_START_TIMEOUT_S:g} s:\n{server.log_tail()}"
                    )
                await asyncio.sleep(POLL_S)
        found = _INVITE_LINE.search(log_path.read_text(errors="replace"))
        if found is None:
            raise RuntimeError(f"salon serve printed no admin invite on an empty database:\n{server.log_tail()}")
        server.admin_invite_code = found.group(2)
    except BaseException:
        server.stop()
        raise
    server.started_in_s = time.monotonic() - started
    return server


@contextlib.contextmanager
def running_salon(ns: NetNamespace, workdir: Path, settings: dict[str, str] | None = None) -> Iterator[SalonServer]:
    """``salon serve`` inside ``ns`` for the block (``settings``: more ``SALON_*`` variables); stopped, with its
    Janus and broadcast workers, when the block ends."""
    server = ns.run(lambda: _start_salon(workdir, settings), timeout=SERVE_START_TIMEOUT_S + 10)
    try:
        yield server
    finally:
        media = server.media_pids()  # before the stop: workers are the server's children only while it lives
        server.stop()
        left = {pid for pid in server.janus_pids() | {server.pid} | media if is_alive(pid)}
        if left:
            raise RuntimeError(f"processes outlived salon serve's stop: {sorted(left)}")


# --- seeding over the API ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    user_id: str
    username: str
    token: str  # a bearer session, for seeding; browsers log in with their own cookie session
    password: str = PASSWORD
    is_admin: bool = False

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _ok(response: httpx.Response) -> Any:
    if response.is_error:
        request = response.request
        raise AssertionError(f"{request.method} {request.url.path} → {response.status_code}: {response.text}")
    return response.json()


@dataclass
class SalonApi:
    """Seeding through the public HTTP API (bearer sessions). Use inside the namespace, as ``async with``."""

    server: SalonServer
    http: httpx.AsyncClient = field(init=False)
    _count: int = field(default=0, init=False)

    async def __aenter__(self) -> SalonApi:
        # trust_env=False: no proxy from the environment; the server is on the namespace's own loopback.
        self.http = httpx.AsyncClient(base_url=self.server.base_url, timeout=HTTP_TIMEOUT_S, trust_env=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def sign_up(self, invite_code: str, username: str) -> Member:
        body = {
            "invite_code": invite_code,
            "username": username,
            "display_name": username.replace("_", " ").title(),
            "password": PASSWORD,
            "mode": "bearer",
        }
        out = _ok(await self.http.post(f"{API}/auth/signup", json=body))
        return Member(out["user"]["id"], username, out["token"], is_admin=out["user"]["is_admin"])

    async def sign_up_admin(self, username: str = "admin") -> Member:
        """The first account, from the invite ``salon serve`` printed; it grants itself invites for seeding."""
        admin = await self.sign_up(self.server.admin_invite_code, username)
        assert admin.is_admin, "the printed invite makes an admin"
        _ok(await self.http.post(f"{API}/admin/users/{admin.user_id}/invites", json={"count": 100}, headers=admin.auth))
        return admin

    async def invite(self, by: Member) -> str:
        """A new invite code from ``by``."""
        return str(_ok(await self.http.post(f"{API}/invites", headers=by.auth))["code"])

    async def add_member(self, by: Member, username: str) -> Member:
        return await self.sign_up(await self.invite(by), username)

    async def create_room(self, by: Member, title: str, *, room_type: str = "open") -> str:
        """Open a room (``by`` moderates it); its id."""
        body = {"title": title, "topics": [], "type": room_type}
        return str(_ok(await self.http.post(f"{API}/rooms", json=body, headers=by.auth))["room"]["id"])


async def log_in(context: BrowserContext, server: SalonServer, member: Member) -> str:
    """Log ``member`` in within ``context`` (a cookie session, as the web app does); the CSRF token."""
    response = await context.request.post(
        f"{server.base_url}{API}/auth/login",
        data={"username": member.username, "password": member.password, "mode": "cookie"},
    )
    if not response.ok:
        raise AssertionError(f"log-in of {member.username} → {response.status}: {await response.text()}")
    return str((await response.json())["csrf_token"])


# --- browsers ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    name: str  # the screenshot suffix
    width: int
    height: int
    is_mobile: bool

    def context_options(self) -> dict[str, Any]:
        return {
            "viewport": {"width": self.width, "height": self.height},
            "device_scale_factor": 1,  # 1: screenshots stay small; layout is the same at 2
            "is_mobile": self.is_mobile,
            "has_touch": self.is_mobile,
        }


PHONE: Final = Device("phone", 390, 844, is_mobile=True)
DESKTOP: Final = Device("desktop", 1280, 800, is_mobile=False)


def write_mic(path: Path, hz: float | None, *, seconds: float = 1.0) -> Path:
    """A WAV for Chromium's fake microphone: 48 kHz mono 16-bit PCM, a 0.3-amplitude sine (``None``: silence).
    Chromium loops the file, so a whole number of periods (an integer ``hz`` over 1 s) loops without a click."""
    samples = int(48000 * seconds)
    pcm = sine(hz, samples, amplitude=0.3) if hz else np.zeros(samples, dtype=np.float32)
    write_wav(path, pcm)
    return path


def _wrapper(workdir: Path, name: str) -> Path:
    """A launcher that runs /usr/bin/chromium with its stdout and stderr in ``<name>-chromium.log``. Playwright
    keeps a browser's output to itself; ``exec`` keeps the pipes (fds 3 and 4) it drives Chromium through."""
    log = workdir / f"{name}-chromium.log"
    script = workdir / f"{name}-chromium.sh"
    script.write_text(f'#!/bin/sh\nexec {CHROMIUM} "$@" >>{shlex.quote(str(log))} 2>&1\n')
    script.chmod(0o755)
    return script


async def launch_browser(
    playwright: Playwright,
    workdir: Path,
    name: str,
    mic_hz: float | None,
    *,
    extra_args: tuple[str, ...] = (),
    home: Path | None = None,
) -> Browser:
    """One headless Chromium for one person, its fake microphone playing ``mic_hz`` (``None``: silence); ``home``:
    its HOME (where it finds the NSS database of locally trusted CAs, ``$HOME/.pki/nssdb``)."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/install-system-deps.sh (never `playwright install`)")
    mic = write_mic(workdir / f"{name}-mic.wav", mic_hz)
    return await playwright.chromium.launch(
        executable_path=_wrapper(workdir, name),
        headless=True,
        args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={mic}", *extra_args],
        env=None if home is None else {**os.environ, "HOME": str(home)},
        timeout=30_000,
    )


async def new_context(browser: Browser, server: SalonServer, device: Device = DESKTOP) -> BrowserContext:
    """A fresh context (its own cookies) on the server's origin, with the listening probe in every page."""
    return await probed_context(browser, server.base_url, device)


async def probed_context(browser: Browser, base_url: str, device: Device = DESKTOP) -> BrowserContext:
    """A fresh context on any origin (a test's own server, say), with the listening probe in every page."""
    context = await browser.new_context(base_url=base_url, **device.context_options())
    await context.add_init_script(PROBE_JS)
    return context


# --- the listening probe -----------------------------------------------------------------------------------------

# Installed before any page script runs. Every audio track the page plays is also fed to one AnalyserNode, whichever
# way it came: a remote WebRTC track (RTCPeerConnection is wrapped: its 'track' event), or a stream set on a media
# element's ``srcObject`` (the broadcast tier's player makes its sound in Web Audio and plays it through the page's
# <audio>). A track is tapped once, whichever way it shows up first; microphone tracks (from getUserMedia) never are,
# even if a page previews its microphone in an element. Two Chromium facts shape it:
# * a remote WebRTC track gives Web Audio only silence unless a media element also plays it, so each one is
#   attached to a muted <audio> too (muted playback needs no user gesture);
# * an AudioContext made without a user gesture starts suspended and renders nothing: the probe resumes it when the
#   page gets a pointer or key event (the app starts playback from a click; a test without UI clicks the page).
PROBE_JS: Final = """
(() => {
  if (window.__salonProbe) return;
  const keep = [];
  // The tracks tapped, and the microphone's (never tapped). Objects, not ids: Janus gives every connection's track the
  // same id, so a renegotiated connection's new track would pass for the old one.
  const seen = new WeakSet();
  let context = null;
  let analyser = null;
  let tracks = 0;
  const audio = () => {
    if (context === null) {
      context = new AudioContext();
      analyser = context.createAnalyser();
      analyser.fftSize = 4096;
      analyser.smoothingTimeConstant = 0;
    }
    return context;
  };
  const resume = () => { if (context !== null && context.state !== 'running') context.resume().catch(() => {}); };
  for (const kind of ['pointerdown', 'keydown', 'click']) window.addEventListener(kind, resume, true);
  const srcObject = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'srcObject');
  const tap = (track) => {
    if (track.kind !== 'audio' || seen.has(track)) return;
    seen.add(track);
    const stream = new MediaStream([track]);
    const element = new Audio();
    element.muted = true;
    srcObject.set.call(element, stream); // the native setter: the probe's own element is not a page's
    element.play().catch(() => {});
    const source = audio().createMediaStreamSource(stream);
    source.connect(analyser);
    keep.push(element, source);
    tracks += 1;
    resume();
  };
  if (window.RTCPeerConnection) {
    const Native = window.RTCPeerConnection;
    class ProbedPeerConnection extends Native {
      constructor(...args) {
        super(...args);
        this.addEventListener('track', (event) => tap(event.track));
      }
    }
    window.RTCPeerConnection = ProbedPeerConnection;
    if (window.webkitRTCPeerConnection) window.webkitRTCPeerConnection = ProbedPeerConnection;
  }
  Object.defineProperty(HTMLMediaElement.prototype, 'srcObject', {
    ...srcObject,
    set(value) {
      srcObject.set.call(this, value);
      if (value instanceof MediaStream) for (const track of value.getAudioTracks()) tap(track);
    },
  });
  const media = navigator.mediaDevices;
  if (media && media.getUserMedia) {
    const getUserMedia = media.getUserMedia.bind(media);
    media.getUserMedia = async (...args) => {
      const stream = await getUserMedia(...args);
      for (const track of stream.getTracks()) seen.add(track);
      return stream;
    };
  }
  const spectrum = () => {
    const bins = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(bins);
    return bins;
  };
  const floor = (db) => (Number.isFinite(db) ? db : -200);
  window.__salonProbe = {
    tracks: () => tracks,
    state: () => (context === null ? 'none' : context.state),
    level(hz, width = 20) {
      if (analyser === null) return -200;
      const bins = spectrum();
      const step = context.sampleRate / analyser.fftSize;
      let best = -Infinity;
      const low = Math.max(0, Math.floor((hz - width) / step));
      const high = Math.min(bins.length - 1, Math.ceil((hz + width) / step));
      for (let i = low; i <= high; i += 1) best = Math.max(best, bins[i]);
      return floor(best);
    },
    floor(low = 100, high = 4000) {
      if (analyser === null) return -200;
      const bins = spectrum();
      const step = context.sampleRate / analyser.fftSize;
      const band = Array.from(bins.slice(Math.ceil(low / step), Math.floor(high / step) + 1)).sort((x, y) => x - y);
      return floor(band[Math.floor(band.length / 2)]);
    },
    peak() {
      if (analyser === null) return { hz: 0, db: -200 };
      const bins = spectrum();
      let index = 1;
      for (let i = 1; i < bins.length; i += 1) if (bins[i] > bins[index]) index = i;
      return { hz: (index * context.sampleRate) / analyser.fftSize, db: floor(bins[index]) };
    },
  };
})();
"""


async def probe_levels(page: Page, *frequencies: float) -> dict[str, Any]:
    """What the probe reads now: each frequency's level (dB), the loudest frequency, tracks tapped, context state."""
    result: dict[str, Any] = await page.evaluate(
        """(hzs) => {
            const p = window.__salonProbe;
            if (!p) return { installed: false };
            return { installed: true, levels: hzs.map((hz) => p.level(hz)), floor: p.floor(), peak: p.peak(),
                     tracks: p.tracks(), state: p.state() };
        }""",
        list(frequencies),
    )
    return result


def audible(level: float, floor: float, loudest: float | None = None) -> bool:
    """A tone at this level, over this spectrum floor, is heard (see the measurements by ``HEARD_DB``) — and is not
    merely a harmonic or the skirt of a much louder tone (``loudest``, when known)."""
    own = loudest is None or level > loudest - SILENT_BELOW_PEAK_DB
    return level >= HEARD_DB and level - floor >= HEARD_ABOVE_FLOOR_DB and own


def quiet(level: float, floor: float, loudest: float) -> bool:
    """Nothing of its own at this level: low, not above the floor, or only the skirt of the loudest tone."""
    return level < SILENT_DB or level - floor < SILENT_ABOVE_FLOOR_DB or level <= loudest - SILENT_BELOW_PEAK_DB


Reading = tuple[float, float, float]  # the level at the frequency, the floor, the loudest bin (dB)


def _describe(readings: list[Reading], last: dict[str, Any]) -> str:
    if not last.get("installed"):
        return "the probe is not installed in this page (make its context with new_context)"
    recent = ", ".join(f"{level:.0f}/{floor:.0f}" for level, floor, _ in readings[-6:])
    peak = last["peak"]
    return (
        f"loudest reading {max((r[0] for r in readings), default=-200):.0f} dB; last readings (level/floor dB) "
        f"[{recent}]; loudest frequency {peak['hz']:.0f} Hz at {peak['db']:.0f} dB; {last['tracks']} audio "
        f"track(s) tapped; AudioContext {last['state']}"
    )


async def _reading(page: Page, hz: float, *, listening: bool = False) -> tuple[Reading | None, dict[str, Any]]:
    """One reading; ``listening``: only once the page receives audio at all (else deafness would prove nothing)."""
    last = await probe_levels(page, hz)
    if not last.get("installed") or (listening and last["tracks"] == 0):
        return None, last
    return (last["levels"][0], last["floor"], last["peak"]["db"]), last


# The waits below take their own ``timeout`` rather than running under ``asyncio.timeout``: a failure must say what
# the page heard, not just that time ran out.
async def hears(page: Page, hz: float, timeout: float = 10.0) -> float:  # noqa: ASYNC109
    """Wait until the page hears a tone at ``hz``; the seconds it took. Fails saying what it heard instead."""
    started = time.monotonic()
    readings: list[Reading] = []
    while True:
        reading, last = await _reading(page, hz)
        if reading is not None:
            readings.append(reading)
            if audible(*reading):
                return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"waited {timeout:g} s to hear {hz:g} Hz: {_describe(readings, last)}")
        await asyncio.sleep(POLL_S)


async def until_deaf(
    page: Page,
    hz: float,
    timeout: float = 10.0,  # noqa: ASYNC109
    *,
    hold: float = 0.3,
) -> float:
    """Wait until ``hz`` stays quiet for ``hold`` s in a page that receives audio; the seconds until it went quiet.
    Fails saying what it heard."""
    started = time.monotonic()
    readings: list[Reading] = []
    quiet_since: float | None = None
    while True:
        reading, last = await _reading(page, hz, listening=True)
        now = time.monotonic()
        if reading is not None:
            readings.append(reading)
            if quiet(*reading):
                quiet_since = now if quiet_since is None else quiet_since
                if now - quiet_since >= hold:
                    return quiet_since - started
            else:
                quiet_since = None
        if now - started > timeout:
            raise AssertionError(f"waited {timeout:g} s for {hz:g} Hz to go quiet: {_describe(readings, last)}")
        await asyncio.sleep(POLL_S)


async def stays_deaf(page: Page, hz: float, seconds: float = 0.5) -> None:
    """Check that ``hz`` is quiet in every reading for ``seconds`` in a page that receives audio (nobody sends it
    there); fails naming what was heard."""
    started = time.monotonic()
    readings: list[Reading] = []
    while time.monotonic() - started < seconds:
        reading, last = await _reading(page, hz, listening=True)
        if reading is None:
            raise AssertionError(f"cannot tell whether {hz:g} Hz is silent: {_describe(readings, last)}")
        readings.append(reading)
        if not quiet(*reading):
            raise AssertionError(f"heard {hz:g} Hz, which should be silent: {_describe(readings, last)}")
        await asyncio.sleep(POLL_S)


# --- screenshots -------------------------------------------------------------------------------------------------


async def snap(page: Page, name: str) -> Path:
    """Save a full-page PNG as ``test-artifacts/screenshots/<name>-<phone|desktop>.png``; its path."""
    viewport = page.viewport_size
    device = PHONE if viewport is not None and viewport["width"] <= PHONE.width else DESKTOP
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{device.name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
