"""``salon serve``'s log formats (cli/logs.py): JSON lines with the request id from the context and the exception's
traceback; uvicorn's own logging set-up kept for text, replaced for JSON."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from salon.app.request_ids import REQUEST_ID
from salon.cli.logs import configure_logging, uvicorn_log_options


@pytest.fixture
def root_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.usefixtures("root_restored")
def test_json_lines_carry_the_request_id_and_the_exception() -> None:
    out = io.StringIO()
    configure_logging("json", out)
    log = logging.getLogger("salon.tests")
    log.info("outside any request")
    token = REQUEST_ID.set("req-42")
    try:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.warning("it failed for %s", "ann", exc_info=True)
    finally:
        REQUEST_ID.reset(token)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["request_id"] is None
    assert first["message"] == "outside any request"
    assert first["level"] == "INFO"
    assert second["request_id"] == "req-42"
    assert second["logger"] == "salon.tests"
    assert second["message"] == "it failed for ann"
    assert "RuntimeError: boom" in second["exception"]
    assert second["time"].endswith("+00:00")


@pytest.mark.usefixtures("root_restored")
def test_text_lines_stay_readable() -> None:
    out = io.StringIO()
    configure_logging("text", out)
    logging.getLogger("salon.tests").info("hello")
    assert out.getvalue().rstrip().endswith("INFO salon.tests: hello")  # no brackets outside a request
    with pytest.raises(json.JSONDecodeError):
        json.loads(out.getvalue())


@pytest.mark.usefixtures("root_restored")
def test_text_lines_name_the_request_after_the_level() -> None:
    out = io.StringIO()
    configure_logging("text", out)
    token = REQUEST_ID.set("req-42-3")
    try:
        logging.getLogger("salon.tests").info("inside one")
    finally:
        REQUEST_ID.reset(token)
    logging.getLogger("salon.tests").info("after it")
    inside, after = out.getvalue().splitlines()
    assert inside.endswith("INFO [req-42-3] salon.tests: inside one")
    assert after.endswith("INFO salon.tests: after it")


def test_uvicorn_keeps_its_logging_for_text_and_leaves_json_to_us() -> None:
    assert uvicorn_log_options("text") == {}
    assert uvicorn_log_options("json") == {"log_config": None, "access_log": False}
