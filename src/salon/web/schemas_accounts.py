"""Web layer: request and response models of the accounts API (members, sessions, invites, waitlist).

Requests forbid unknown fields and bound every string with the domain's own limits (so the OpenAPI document
promises what the server accepts); the domain rules still run in the use cases (they give the precise refusals,
e.g. ``weak_password``). Responses are built from app-layer results by the ``from_*``
helpers, so what a viewer may see is decided once, in the use case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from salon.app.accounts import Profile
from salon.app.invites import CODE_MAX, GRANT_MAX, InviteView, NewInvite
from salon.app.social import KnownFollowers
from salon.app.waitlist import CONTACT_MAX, WaitlistEntry
from salon.domain.accounts import BIO_MAX, DISPLAY_NAME_MAX, PASSWORD_MAX, USERNAME_RE, UserSummary
from salon.domain.api_paths import avatar_url
from salon.web.schemas_text import line_rule, lines_rule, name_rule

Username = Annotated[str, Field(min_length=1, max_length=64), line_rule("username")]
# Never stored nor shown: any character counts. Logging in takes longer ones than signing up makes (PASSWORD_MAX),
# only to answer bad_credentials like any wrong password.
Password = Annotated[str, Field(min_length=1, max_length=1024)]
DisplayName = Annotated[str, Field(min_length=1, max_length=DISPLAY_NAME_MAX), name_rule("display_name")]
Mode = Literal["cookie", "bearer"]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Response(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- requests ------------------------------------------------------------------------------------------------------


class SignupIn(Request):
    invite_code: Annotated[str, Field(min_length=1, max_length=CODE_MAX), line_rule("invite_code")]
    username: Annotated[str, Field(min_length=3, max_length=20, pattern=USERNAME_RE.pattern)]
    display_name: DisplayName
    password: Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX)]
    mode: Mode = "cookie"


class LoginIn(Request):
    username: Username
    password: Password
    mode: Mode = "cookie"


class ProfileIn(Request):
    display_name: DisplayName | None = None
    bio: Annotated[str, Field(max_length=BIO_MAX), lines_rule("bio")] | None = None


class GrantIn(Request):
    count: Annotated[StrictInt, Field(ge=1, le=GRANT_MAX)]


class WaitlistIn(Request):
    name: Annotated[str, Field(min_length=1, max_length=DISPLAY_NAME_MAX), name_rule("name")]
    contact: Annotated[str, Field(min_length=1, max_length=CONTACT_MAX), line_rule("contact")]


# --- responses -----------------------------------------------------------------------------------------------------


class UserSummaryOut(Response):
    id: str
    username: str
    display_name: str
    avatar_url: str | None

    @classmethod
    def from_summary(cls, s: UserSummary | None) -> UserSummaryOut | None:
        return None if s is None else cls.of(s)

    @classmethod
    def of(cls, s: UserSummary) -> UserSummaryOut:
        return cls(id=s.id, username=s.username, display_name=s.display_name, avatar_url=avatar_url(s.avatar))


class KnownFollowersOut(Response):
    count: int = Field(description="How many of this member's followers you follow.")
    users: list[UserSummaryOut] = Field(description="Up to three of them, the most recent followers first.")

    @classmethod
    def from_known(cls, k: KnownFollowers | None) -> KnownFollowersOut | None:
        if k is None:
            return None
        return cls(count=k.count, users=[UserSummaryOut.of(u) for u in k.users])


class ProfileOut(Response):
    id: str
    username: str
    display_name: str
    bio: str
    avatar_url: str | None
    created_at: datetime
    is_admin: bool
    invited_by: UserSummaryOut | None = Field(
        description="Who invited them (shown to every member); None for members the operator let in."
    )
    topics: list[str] = Field(description="Their topics of interest, in the order they picked them.")
    invites_left: int | None = Field(description="Shown to the member themself only.")
    disabled: bool | None = Field(description="Shown to admins only.")
    followers_count: int = Field(description="Enabled members who follow them.")
    following_count: int = Field(description="Enabled members they follow.")
    followed_by_you: bool | None = Field(description="Whether you follow them (None on your own profile).")
    follows_you: bool | None = Field(description="Whether they follow you (None on your own profile).")
    blocked_by_you: bool | None = Field(description="Whether you blocked them (None on your own profile).")
    known_followers: KnownFollowersOut | None = Field(
        description="Followed by people you follow: how many, and up to three of them (None on your own profile)."
    )

    @classmethod
    def from_profile(cls, p: Profile) -> ProfileOut:
        return cls(
            id=p.id,
            username=p.username,
            display_name=p.display_name,
            bio=p.bio,
            avatar_url=avatar_url(p.avatar),
            created_at=p.created_at,
            is_admin=p.is_admin,
            invited_by=UserSummaryOut.from_summary(p.invited_by),
            topics=p.topics,
            invites_left=p.invites_left,
            disabled=p.disabled,
            followers_count=p.social.followers_count,
            following_count=p.social.following_count,
            followed_by_you=p.social.followed_by_you,
            follows_you=p.social.follows_you,
            blocked_by_you=p.social.blocked_by_you,
            known_followers=KnownFollowersOut.from_known(p.social.known_followers),
        )


class AuthOut(Response):
    user: ProfileOut
    token: str | None = Field(description="The bearer token (bearer mode only). Shown once.")
    csrf_token: str | None = Field(description="Send it as X-CSRF-Token with unsafe requests (cookie mode only).")


class SessionOut(Response):
    user: ProfileOut
    kind: Mode
    csrf_token: str | None = Field(description="Send it as X-CSRF-Token with unsafe requests (cookie sessions).")
    expires_at: datetime


class LoggedOutOut(Response):
    sessions_ended: int


class InviteCheckOut(Response):
    valid: bool
    invited_by: UserSummaryOut | None = Field(
        description="Whose invite it is, when it is valid (None for an invite from the instance's operator)."
    )


class InviteOut(Response):
    id: str
    status: Literal["open", "used", "revoked", "expired"]
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    used_by: UserSummaryOut | None

    @classmethod
    def from_view(cls, v: InviteView) -> InviteOut:
        return cls(
            id=v.id,
            status=v.status,
            created_at=v.created_at,
            expires_at=v.expires_at,
            used_at=v.used_at,
            used_by=UserSummaryOut.from_summary(v.used_by),
        )


class MyInvitesOut(Response):
    invites: list[InviteOut]
    invites_left: int


class NewInviteOut(Response):
    id: str
    code: str = Field(description="The invite code. Shown once: only its hash is stored.")
    link: str
    expires_at: datetime
    invites_left: int | None

    @classmethod
    def from_new(cls, n: NewInvite) -> NewInviteOut:
        return cls(id=n.id, code=n.code, link=n.link, expires_at=n.expires_at, invites_left=n.invites_left)


class InvitesLeftOut(Response):
    invites_left: int


class UserStateOut(Response):
    id: str
    disabled: bool


class WaitlistAcceptedOut(Response):
    message: str


class WaitlistEntryOut(Response):
    id: str
    name: str
    created_at: datetime
    contact: str | None = Field(description="Shown to admins only.")

    @classmethod
    def from_entry(cls, e: WaitlistEntry) -> WaitlistEntryOut:
        return cls(id=e.id, name=e.name, created_at=e.created_at, contact=e.contact)


class WaitlistOut(Response):
    entries: list[WaitlistEntryOut]


class NominationOut(Response):
    entry: WaitlistEntryOut
    invite: NewInviteOut


class AvatarOut(Response):
    avatar_url: str | None
