"""Test support: the web app's ES modules served to a bare Chromium page, for tests that run one module's code on a
fake clock or fake data without a Salon server (``tests/e2e/test_*_js.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

APP = Path(__file__).parents[2] / "src" / "salon" / "web" / "static" / "app"


def app_modules_route(origin: str, title: str) -> Callable[[Route], None]:
    """A route handler for ``origin``: an empty page at ``/`` and the app's files under ``/app/``; 404 otherwise."""

    def serve(route: Route) -> None:
        path = route.request.url.removeprefix(origin)
        if path == "/":
            route.fulfill(status=200, content_type="text/html", body=f"<!doctype html><title>{title}</title>")
            return
        file = APP / path.removeprefix("/app/")
        if path.startswith("/app/") and file.is_file() and file.resolve().is_relative_to(APP):
            route.fulfill(status=200, content_type="text/javascript", body=file.read_text())
        else:
            route.fulfill(status=404, body="")

    return serve


@contextmanager
def headless_chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, with the harness's arguments; closed on the way out."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def load_app_modules(page: Page, origin: str, title: str, module: str, ready: str, helpers: Sequence[str] = ()) -> None:
    """Open the bare page at ``origin`` serving the app's files, run the ``helpers`` scripts, then ``module`` (an ES
    module importing from ``{origin}/app/...`` that puts what the test drives on ``window``), and wait until the
    expression ``ready`` is true."""
    page.route(f"{origin}/**", app_modules_route(origin, title))
    page.goto(f"{origin}/")
    for helper in helpers:
        page.add_script_tag(content=helper)
    page.add_script_tag(type="module", content=module)
    page.wait_for_function(ready)
