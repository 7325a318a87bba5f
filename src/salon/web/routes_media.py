"""Web layer: ``GET /api/v1/media/ice-servers`` — the STUN and TURN servers (with fresh, time-limited TURN
credentials) a signed-in member's WebRTC clients pass to ``RTCPeerConnection`` (app/turn.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from salon.app.turn import ice_servers_for
from salon.web.auth import CurrentActor
from salon.web.deps import ServicesDep

router = APIRouter(tags=["media"])


class IceServersOut(BaseModel):
    ice_servers: list[dict[str, Any]]
    expires_at: int  # unix seconds when the TURN credentials stop working; 0 when there are none


@router.get("/media/ice-servers", summary="The ICE servers (STUN, TURN with credentials) for my WebRTC connections")
async def get_ice_servers(actor: CurrentActor, services: ServicesDep) -> JSONResponse:
    servers, expires_at = ice_servers_for(services.settings, actor)
    body = IceServersOut(ice_servers=servers, expires_at=expires_at)
    # Credentials: never cached by a proxy or the browser.
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store"})
