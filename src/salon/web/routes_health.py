"""Web layer: the operator's endpoints — ``/healthz`` (liveness), ``/readyz`` (readiness) and ``/metrics``
(Prometheus). Outside ``/api/v1`` and the API document, like the pages: they are for load balancers, systemd and
Prometheus, not for clients. None needs a session or has a rate limit (a load balancer polls them all day; what
they cost is one trivial query and what the adapters already hold).

``/metrics`` answers only clients in ``SALON_METRICS_ALLOW`` (the address as web/client_address.py resolves it
behind ``SALON_TRUSTED_PROXIES``; default loopback only) and, when ``SALON_METRICS_TOKEN`` is set, only with
``Authorization: Bearer <token>`` too; anyone else gets ``403 not_allowed``.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from salon.app.health import readiness
from salon.app.settings import Settings
from salon.domain.errors import ErrorCode, refuse
from salon.web.client_address import client_address
from salon.web.deps import get_services
from salon.web.errors import error_body
from salon.web.metrics import SalonMetrics

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}


@router.get("/healthz")
async def healthz() -> JSONResponse:
    """Liveness: the process answers. No I/O: a slow database must not get a healthy process restarted."""
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the database answers a trivial query and every Janus node has a live session."""
    problems = await readiness(get_services(request))
    if problems:
        message = "Not ready: " + "; ".join(f"{check}: {problem}" for check, problem in problems.items())
        body = error_body(ErrorCode.NOT_READY, message, {"checks": problems})
        return JSONResponse(body, status_code=503, headers=NO_STORE)
    return JSONResponse({"status": "ready"}, headers=NO_STORE)


def metrics_allowed(settings: Settings, address: str, authorization: str | None) -> bool:
    try:
        client = ipaddress.ip_address(address)
    except ValueError:  # no peer address at all: nobody we can place in a network
        return False
    if not any(client in network for network in settings.metrics_allow):
        return False
    if not settings.metrics_token:
        return True
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), settings.metrics_token.encode())


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    services = get_services(request)
    if not metrics_allowed(services.settings, client_address(request), request.headers.get("authorization")):
        raise refuse(ErrorCode.NOT_ALLOWED, "The metrics are not open to this client.")
    served: SalonMetrics = request.app.state.metrics
    return Response(await served.render(services), media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)
