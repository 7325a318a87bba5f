"""Web layer: request-scoped access to the wiring built in the lifespan."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from salon.app.services import Services


def get_services(conn: HTTPConnection) -> Services:
    return cast(Services, conn.app.state.services)


def _services(request: Request) -> Services:
    return get_services(request)


ServicesDep = Annotated[Services, Depends(_services)]
