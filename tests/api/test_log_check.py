"""The API tests' log check (tests/api/conftest.py): what it catches, and the marker that lets a test opt out."""

from __future__ import annotations

import logging
import logging.config
import threading

import httpx
import pytest
from fastapi import FastAPI

from salon.app import hallway
from salon.app.services import Services
from tests.support.accounts import sign_up
from tests.support.api import API, BASE, assert_error, bearer
from tests.support.logcheck import server_faults_logged


@pytest.mark.server_fault  # it logs faults on purpose
def test_errors_and_tracebacks_are_caught_from_any_logger_and_thread() -> None:
    with server_faults_logged() as faults:
        logging.getLogger("salon.web.somewhere").error("broken")
        logging.getLogger("salon.web.somewhere").warning("a warning is not a fault")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("salon.app.elsewhere").warning("a warning with a traceback is", exc_info=True)
        # What uvicorn does when a test server starts: its own handlers, and no propagation to the root.
        logging.config.dictConfig(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "handlers": {"null": {"class": "logging.NullHandler"}},
                "loggers": {"fuzz.check": {"handlers": ["null"], "propagate": False}},
            }
        )
        thread = threading.Thread(target=lambda: logging.getLogger("fuzz.check.inner").critical("from a thread"))
        thread.start()
        thread.join()
    assert [fault.splitlines()[0] for fault in faults] == [
        "ERROR salon.web.somewhere: broken",
        "WARNING salon.app.elsewhere: a warning with a traceback is",
        "CRITICAL fuzz.check.inner: from a thread",
    ]
    assert "RuntimeError: boom" in faults[1]
    logging.getLogger("salon.web.somewhere").error("after the block: not collected")
    assert len(faults) == 3


@pytest.mark.server_fault
async def test_a_server_fault_is_a_500_and_a_logged_error(
    services: Services, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug on our side")

    monkeypatch.setattr(hallway, "live_rooms_page", broken)
    ada = await sign_up(services, "ada")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # the server answers, then re-raises
    with server_faults_logged() as faults:
        async with httpx.AsyncClient(transport=transport, base_url=BASE + API) as client:
            response = await client.get("/hallway", headers=bearer(ada.session.token))
    assert_error(response, 500, "internal")
    assert len(faults) == 1
    assert "RuntimeError: a bug on our side" in faults[0]
