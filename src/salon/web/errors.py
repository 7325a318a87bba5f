"""Web layer: the one table from domain error codes to HTTP statuses, and the handlers that give every error the
same shape ``{"code", "message", "data"}``. A client mistake is a 4xx, never a 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from salon.domain.errors import DomainError, ErrorCode
from salon.web.schemas_text import TEXT_ERROR

log = logging.getLogger(__name__)

HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_INPUT: 422,
    ErrorCode.NOT_AUTHENTICATED: 401,
    ErrorCode.BAD_CREDENTIALS: 401,
    ErrorCode.CSRF_FAILED: 403,
    ErrorCode.NOT_ALLOWED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.NOT_IN_ROOM: 409,
    ErrorCode.ROOM_FULL: 409,
    ErrorCode.ROOM_ENDED: 410,
    ErrorCode.REMOVED_FROM_ROOM: 403,
    ErrorCode.INVITE_INVALID: 410,
    ErrorCode.NO_INVITES_LEFT: 409,
    ErrorCode.USERNAME_TAKEN: 409,
    ErrorCode.WEAK_PASSWORD: 422,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.CONFLICT: 409,
    ErrorCode.HANDS_DISABLED: 409,
    ErrorCode.MUTE_LOCKED: 409,
    ErrorCode.LAST_MODERATOR: 409,
    ErrorCode.LAST_ADMIN: 409,
    ErrorCode.WAITLIST_CLOSED: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA: 415,
    ErrorCode.ACCOUNT_DISABLED: 403,
    ErrorCode.MEDIA_UNAVAILABLE: 503,
    ErrorCode.MEDIA_REFUSED: 409,
    ErrorCode.SPEAKER_MIX_FULL: 409,
    ErrorCode.SPEAKER_MIX_UNAVAILABLE: 409,
    ErrorCode.SELF_TARGET: 422,
    ErrorCode.BLOCKED: 403,
    ErrorCode.UNBLOCK_FIRST: 409,
    ErrorCode.TICKET_INVALID: 401,
    ErrorCode.TICKET_EXPIRED: 401,
    ErrorCode.TICKET_WRONG_ROOM: 403,
    ErrorCode.TICKET_USED: 409,
    ErrorCode.NOT_READY: 503,
    ErrorCode.INTERNAL: 500,
}


class ErrorOut(BaseModel):
    """Every error: a stable machine ``code`` (see ``salon.domain.errors.ErrorCode``), a human ``message``, and
    structured ``data`` (e.g. the invalid ``field``, a room's ``capacity``)."""

    code: str
    message: str
    data: dict[str, Any]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorOut, "description": "Refused: the error shape, with a stable code"},
}

# WebSocket close codes (4000-4999 are for applications).
WS_CLOSE_NOT_AUTHENTICATED = 4401
WS_CLOSE_FORBIDDEN_ORIGIN = 4403
WS_CLOSE_SESSION_ENDED = 4001
WS_CLOSE_TOO_SLOW = 4008
WS_CLOSE_RATE_LIMITED = 4029
WS_CLOSE_PROTOCOL = 4400

_STATUS_CODES: dict[int, ErrorCode] = {
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.NOT_ALLOWED,
    401: ErrorCode.NOT_AUTHENTICATED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA,
}


def error_body(code: ErrorCode, message: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": str(code), "message": message, "data": data or {}}


def status_for(error: DomainError) -> int:
    return HTTP_STATUS.get(error.code, 400)


def _jsonable_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for e in errors:
        out.append({"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": e.get("type")})
    return out


def invalid_input_body(errors: Any) -> dict[str, Any]:
    """The answer to a request that does not validate: ``data.errors`` lists every field; when a text was refused
    (web/schemas_text.py), its message (which names the field and the character) and ``data.field`` lead."""
    data: dict[str, Any] = {"errors": _jsonable_errors(errors)}
    text = next((e for e in errors if e.get("type") == TEXT_ERROR), None)
    if text is None:
        return error_body(ErrorCode.INVALID_INPUT, "Some fields are missing or invalid.", data)
    return error_body(ErrorCode.INVALID_INPUT, str(text["msg"]), {"field": text["ctx"]["field"], **data})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        headers = {}
        if exc.code is ErrorCode.RATE_LIMITED and "retry_after" in exc.data:
            headers["Retry-After"] = str(exc.data["retry_after"])
        return JSONResponse(exc.to_dict(), status_code=status_for(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(invalid_input_body(exc.errors()), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, ErrorCode.INVALID_INPUT)
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=exc)
        return JSONResponse(error_body(ErrorCode.INTERNAL, "Something went wrong on our side."), status_code=500)
