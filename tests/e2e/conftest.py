"""Fixtures for end-to-end browser tests: one private network namespace and one real ``salon serve`` (with its
managed Janus) per test module, since starting them costs seconds, and the admin seeded from the invite it printed.

Every test under tests/e2e is marked ``e2e``. They need root (the namespace) and /usr/bin/chromium; without either
they fail saying so, never skip.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import expect
from playwright.sync_api import Browser

from tests.support.app_modules import headless_chromium
from tests.support.browser import Member, SalonApi, SalonServer, running_salon
from tests.support.netns import NetNamespace, network_namespace

E2E_DIR = Path(__file__).parent
UI_TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """``expect`` waits as long as page actions do (its default, 5 s, is short on a loaded machine); reset after."""
    expect.set_options(timeout=UI_TIMEOUT_MS)
    yield
    expect.set_options(timeout=None)


@dataclass(frozen=True)
class Salon:
    """What a module's tests share: the namespace (run browser code with ``ns.run``), the server, its admin."""

    ns: NetNamespace
    server: SalonServer
    admin: Member
    workdir: Path
    ready_in_s: float  # namespace made, salon serve answering, admin signed up


@pytest.fixture(scope="module")
def bare_chromium() -> Iterator[Browser]:
    """Headless Chromium with no Salon server, for the tests that run the app's modules on a bare page
    (``tests/support/app_modules.py``)."""
    with headless_chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def salon_settings() -> dict[str, str] | None:
    """More ``SALON_*`` settings for the module's server (a module overrides this fixture to change them)."""
    return None


@pytest.fixture(scope="module")
def salon(tmp_path_factory: pytest.TempPathFactory, salon_settings: dict[str, str] | None) -> Iterator[Salon]:
    workdir = tmp_path_factory.mktemp("e2e-salon")
    started = time.monotonic()
    with network_namespace("salon-e2e") as ns, running_salon(ns, workdir, salon_settings) as server:

        async def seed() -> Member:
            async with SalonApi(server) as api:
                return await api.sign_up_admin()

        admin = ns.run(seed, timeout=30)
        yield Salon(ns, server, admin, workdir, ready_in_s=time.monotonic() - started)
        # The tests close their browsers; anything still in the namespace besides the server and its Janus
        # (a Chromium, a renderer) is a leak the harness should not hide by deleting the namespace over it.
        leftovers = ns.pids() - {server.pid} - server.media_pids()
        assert not leftovers, f"processes left in the namespace by the tests: {_describe(leftovers)}"


def _describe(pids: set[int]) -> str:
    names = []
    for pid in sorted(pids):
        try:
            names.append(f"{pid} {Path(f'/proc/{pid}/comm').read_text().strip()}")
        except OSError:
            names.append(str(pid))
    return ", ".join(names)
