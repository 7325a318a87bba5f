"""Web layer: the accounts API — sign-up, log-in/out, profiles and avatars, invites, admin actions, waitlist.

Routes are thin: parse (schemas_accounts), call one use case, shape the answer. Authorization lives in the use
cases and in ``auth.py`` (who is calling, CSRF).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import FileResponse
from starlette.datastructures import UploadFile

from salon.app import accounts, admin, avatars, invites, waitlist
from salon.app.accounts import SignedIn
from salon.app.devices import DEVICE_DAYS
from salon.app.services import Services
from salon.domain.api_paths import API_PREFIX, avatar_url
from salon.domain.errors import ErrorCode, refuse
from salon.web.auth import (
    CurrentActor,
    CurrentSession,
    clear_session_cookie,
    set_session_cookie,
)
from salon.web.client_address import client_address
from salon.web.deps import ServicesDep
from salon.web.schemas_accounts import (
    AuthOut,
    AvatarOut,
    GrantIn,
    InviteCheckOut,
    InviteOut,
    InvitesLeftOut,
    LoggedOutOut,
    LoginIn,
    MyInvitesOut,
    NewInviteOut,
    NominationOut,
    ProfileIn,
    ProfileOut,
    SessionOut,
    SignupIn,
    UserStateOut,
    UserSummaryOut,
    WaitlistAcceptedOut,
    WaitlistEntryOut,
    WaitlistIn,
    WaitlistOut,
)
from salon.web.schemas_text import ID_PATTERN

router = APIRouter()

Id = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
# Room for the multipart framing around the image (boundaries, part headers).
MULTIPART_OVERHEAD = 16 * 1024
WAITLIST_ANSWER = "Thanks! If a member invites you, they will pass you a link."
# A known device (app/devices.py): a browser keeps it as this cookie, sent only to the log-in routes; a bearer
# client gets it in this response header and sends it back in the same header.
DEVICE_COOKIE = "salon_device"
DEVICE_HEADER = "X-Salon-Device"


def _signed_in(response: Response, services: Services, result: SignedIn) -> AuthOut:
    if result.session.kind == "cookie":
        set_session_cookie(response, services.settings, result.session)
        response.set_cookie(
            DEVICE_COOKIE,
            result.device_token,
            max_age=DEVICE_DAYS * 86_400,
            path=f"{API_PREFIX}/auth",
            secure=services.settings.https,
            httponly=True,
            samesite="strict",
        )
        return AuthOut(user=ProfileOut.from_profile(result.user), token=None, csrf_token=result.session.csrf_token)
    response.headers[DEVICE_HEADER] = result.device_token
    return AuthOut(user=ProfileOut.from_profile(result.user), token=result.session.token, csrf_token=None)


# --- sessions ------------------------------------------------------------------------------------------------------


@router.post("/auth/signup", status_code=201, summary="Sign up with an invite code", tags=["auth"])
async def signup(body: SignupIn, response: Response, services: ServicesDep) -> AuthOut:
    """Redeem an invite: creates the account and logs it in (a cookie, or a bearer token in ``bearer`` mode)."""
    result = await accounts.sign_up_with_invite(
        services,
        code=body.invite_code,
        username=body.username,
        display_name=body.display_name,
        password=body.password,
        kind=body.mode,
    )
    return _signed_in(response, services, result)


@router.post("/auth/login", summary="Log in", tags=["auth"])
async def login(body: LoginIn, request: Request, response: Response, services: ServicesDep) -> AuthOut:
    """A failed log-in is always ``bad_credentials``, whether or not the account exists. Repeated failures are
    ``rate_limited`` (``retry_after`` seconds); a client that shows the device token it got at an earlier log-in
    (the ``salon_device`` cookie, or the ``X-Salon-Device`` header) is limited only by its own failures."""
    device = request.headers.get(DEVICE_HEADER) or request.cookies.get(DEVICE_COOKIE)
    result = await accounts.log_in(
        services,
        username=body.username,
        password=body.password,
        kind=body.mode,
        client_ip=client_address(request),
        device_token=device,
    )
    return _signed_in(response, services, result)


@router.post("/auth/logout", summary="Log out (this session)", tags=["auth"])
async def logout(actor: CurrentActor, response: Response, services: ServicesDep) -> LoggedOutOut:
    await accounts.log_out(services, actor)
    clear_session_cookie(response, services.settings)
    return LoggedOutOut(sessions_ended=1)


@router.post("/auth/logout-all", summary="Log out everywhere (every session)", tags=["auth"])
async def logout_all(actor: CurrentActor, response: Response, services: ServicesDep) -> LoggedOutOut:
    ended = await accounts.log_out_everywhere(services, actor)
    clear_session_cookie(response, services.settings)
    return LoggedOutOut(sessions_ended=ended)


@router.get("/auth/session", summary="The current session", tags=["auth"])
async def get_session(session: CurrentSession, services: ServicesDep) -> SessionOut:
    """Who is logged in; for a cookie session also the CSRF token to send as ``X-CSRF-Token``."""
    me = await accounts.get_me(services, session.actor)
    csrf = session.csrf_token if session.kind == "cookie" else None
    return SessionOut(
        user=ProfileOut.from_profile(me), kind=session.kind, csrf_token=csrf, expires_at=session.expires_at
    )


# --- me and profiles -----------------------------------------------------------------------------------------------


@router.get("/me", summary="My profile", tags=["members"])
async def get_me(actor: CurrentActor, services: ServicesDep) -> ProfileOut:
    return ProfileOut.from_profile(await accounts.get_me(services, actor))


@router.patch("/me", summary="Edit my profile", tags=["members"])
async def patch_me(body: ProfileIn, actor: CurrentActor, services: ServicesDep) -> ProfileOut:
    profile = await accounts.update_profile(services, actor, display_name=body.display_name, bio=body.bio)
    return ProfileOut.from_profile(profile)


_AVATAR_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.put("/me/avatar", summary="Upload my avatar", tags=["members"], openapi_extra=_AVATAR_BODY)
async def put_avatar(request: Request, actor: CurrentActor, services: ServicesDep) -> AvatarOut:
    """A PNG, JPEG or WebP as the multipart field ``file``; stored re-encoded as a 256x256 PNG."""
    limit = services.settings.avatar_max_bytes
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isdigit() or int(declared) > limit + MULTIPART_OVERHEAD):
        raise refuse(ErrorCode.PAYLOAD_TOO_LARGE, f"An avatar is at most {limit} bytes.", max_bytes=limit)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise refuse(ErrorCode.UNSUPPORTED_MEDIA, "Send the image as multipart/form-data, in the field 'file'.")
    async with request.form(max_files=1, max_fields=0) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise refuse(ErrorCode.INVALID_INPUT, "Send the image in the multipart field 'file'.", field="file")
        data = await upload.read(limit + 1)
    name = await avatars.set_avatar(services, actor, data)
    return AvatarOut(avatar_url=avatar_url(name))


@router.delete("/me/avatar", summary="Remove my avatar", tags=["members"])
async def delete_avatar(actor: CurrentActor, services: ServicesDep) -> AvatarOut:
    await avatars.remove_avatar(services, actor)
    return AvatarOut(avatar_url=None)


@router.get(
    "/avatars/{name}",
    summary="An avatar image",
    tags=["members"],
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}}, "description": "A 256x256 PNG."}},
)
async def get_avatar(name: Annotated[str, Path(max_length=80)], services: ServicesDep) -> FileResponse:
    path = avatars.avatar_path(services.settings, name)
    if path is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such avatar.")
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'",
        "Cache-Control": "public, max-age=31536000, immutable",  # names are random and never reused
    }
    return FileResponse(path, media_type="image/png", headers=headers)


@router.get("/users/{user_id}", summary="A member's profile", tags=["members"])
async def get_user(user_id: Id, actor: CurrentActor, services: ServicesDep) -> ProfileOut:
    return ProfileOut.from_profile(await accounts.get_profile(services, actor, user_id))


@router.get("/users/by-username/{username}", summary="A member's profile, by username", tags=["members"])
async def get_user_by_username(username: Id, actor: CurrentActor, services: ServicesDep) -> ProfileOut:
    return ProfileOut.from_profile(await accounts.get_profile_by_username(services, actor, username))


# --- invites -------------------------------------------------------------------------------------------------------


@router.get("/invites/check/{code}", summary="Whether an invite code is valid", tags=["invites"])
async def check_invite(code: Annotated[str, Path(max_length=200)], services: ServicesDep) -> InviteCheckOut:
    """For the sign-up page: whether the code can be redeemed now and, if so, who sent it."""
    found = await invites.invite_check(services, code)
    return InviteCheckOut(valid=found.valid, invited_by=UserSummaryOut.from_summary(found.invited_by))


@router.get("/invites", summary="My invites", tags=["invites"])
async def list_invites(actor: CurrentActor, services: ServicesDep) -> MyInvitesOut:
    mine = await invites.list_my_invites(services, actor)
    return MyInvitesOut(invites=[InviteOut.from_view(v) for v in mine.invites], invites_left=mine.invites_left)


@router.post("/invites", status_code=201, summary="Create an invite", tags=["invites"])
async def create_invite(actor: CurrentActor, services: ServicesDep) -> NewInviteOut:
    """Spends one of your invites (admins spend none). The code is shown only in this answer."""
    return NewInviteOut.from_new(await invites.create_invite(services, actor))


@router.delete("/invites/{invite_id}", summary="Revoke an unused invite", tags=["invites"])
async def revoke_invite(invite_id: Id, actor: CurrentActor, services: ServicesDep) -> InvitesLeftOut:
    """The invite stops working and its slot comes back to its creator."""
    return InvitesLeftOut(invites_left=await invites.revoke_invite(services, actor, invite_id))


@router.post("/admin/users/{user_id}/invites", summary="Grant a member more invites (admin)", tags=["admin"])
async def grant_invites(user_id: Id, body: GrantIn, actor: CurrentActor, services: ServicesDep) -> InvitesLeftOut:
    return InvitesLeftOut(invites_left=await admin.grant_invites(services, actor, user_id, body.count))


@router.post("/admin/users/{user_id}/disable", summary="Disable a member (admin)", tags=["admin"])
async def disable_user(user_id: Id, actor: CurrentActor, services: ServicesDep) -> UserStateOut:
    """Ends all their sessions and live connections at once; they cannot log in until enabled."""
    await admin.disable_member(services, actor, user_id)
    return UserStateOut(id=user_id, disabled=True)


@router.post("/admin/users/{user_id}/enable", summary="Enable a disabled member (admin)", tags=["admin"])
async def enable_user(user_id: Id, actor: CurrentActor, services: ServicesDep) -> UserStateOut:
    await admin.enable_member(services, actor, user_id)
    return UserStateOut(id=user_id, disabled=False)


# --- waitlist ------------------------------------------------------------------------------------------------------


@router.post("/waitlist", status_code=202, summary="Ask to join", tags=["waitlist"])
async def join_waitlist(body: WaitlistIn, request: Request, services: ServicesDep) -> WaitlistAcceptedOut:
    """Always the same answer (``waitlist_closed`` when an admin closed the waitlist). Members see your name; only
    admins see your contact."""
    await waitlist.join_waitlist(services, name=body.name, contact=body.contact, client_ip=client_address(request))
    return WaitlistAcceptedOut(message=WAITLIST_ANSWER)


@router.get("/waitlist", summary="People waiting for an invite", tags=["waitlist"])
async def list_waitlist(actor: CurrentActor, services: ServicesDep) -> WaitlistOut:
    entries = await waitlist.list_waitlist(services, actor)
    return WaitlistOut(entries=[WaitlistEntryOut.from_entry(e) for e in entries])


@router.post("/waitlist/{entry_id}/nominate", status_code=201, summary="Invite someone waiting", tags=["waitlist"])
async def nominate(entry_id: Id, actor: CurrentActor, services: ServicesDep) -> NominationOut:
    """Spends one of your invites; pass the link on to them (it is shown only here)."""
    result = await waitlist.nominate(services, actor, entry_id)
    return NominationOut(entry=WaitlistEntryOut.from_entry(result.entry), invite=NewInviteOut.from_new(result.invite))
