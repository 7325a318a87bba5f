"""App layer: the waitlist — anyone asks to join; a member nominates someone, spending one of their invites.

An admin may close the waitlist (instance settings): asking then gets ``waitlist_closed``. Otherwise asking always
gets the same answer (whether or not that contact is already waiting), so the list is no oracle of
who asked. Members see names and dates; contacts are personal data, shown to admins only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from salon.app import admin
from salon.app.invites import NewInvite, invite_link, issue_invite, spend_quota
from salon.app.ratelimit import address_bucket
from salon.app.services import Services
from salon.app.sessions import Actor
from salon.domain.accounts import DISPLAY_NAME_MAX
from salon.domain.admin import check_waitlist_open
from salon.domain.errors import ErrorCode, refuse
from salon.domain.text import check_name, check_text
from salon.store import repo_accounts as repo
from salon.store import repo_invites
from salon.store.repo_invites import WaitlistRecord

CONTACT_MIN = 3
CONTACT_MAX = 200
LIST_MAX = 500


@dataclass(frozen=True)
class WaitlistEntry:
    id: str
    name: str
    created_at: datetime
    contact: str | None  # admins only


@dataclass(frozen=True)
class Nomination:
    entry: WaitlistEntry
    invite: NewInvite


def _entry(record: WaitlistRecord, actor: Actor) -> WaitlistEntry:
    return WaitlistEntry(record.id, record.name, record.created_at, record.contact if actor.is_admin else None)


def check_entry(name: str, contact: str) -> tuple[str, str]:
    name = " ".join(check_name(name, "name").split())
    contact = check_text(contact, "contact").strip()
    if not 1 <= len(name) <= DISPLAY_NAME_MAX:
        raise refuse(ErrorCode.INVALID_INPUT, f"A name has 1 to {DISPLAY_NAME_MAX} characters.", field="name")
    if not CONTACT_MIN <= len(contact) <= CONTACT_MAX:
        raise refuse(
            ErrorCode.INVALID_INPUT,
            f"A contact (e-mail, phone or handle) has {CONTACT_MIN} to {CONTACT_MAX} characters on one line.",
            field="contact",
        )
    return name, contact


async def join_waitlist(services: Services, *, name: str, contact: str, client_ip: str) -> None:
    """Ask to join. Rate-limited per client address; the same (empty) answer whether or not they were waiting."""
    await services.limits.hit(services.limits.waitlist, address_bucket(client_ip))
    check_waitlist_open(await admin.instance_settings(services))
    name, contact = check_entry(name, contact)
    async with services.db.transaction() as conn:
        await repo_invites.insert_waitlist_entry(
            conn, entry_id=services.ids.new_id(), name=name, contact=contact, now=services.clock.now()
        )


async def list_waitlist(services: Services, actor: Actor) -> list[WaitlistEntry]:
    """The people still waiting, oldest first."""
    async with services.db.read() as conn:
        records = await repo_invites.list_waiting(conn, LIST_MAX)
    return [_entry(r, actor) for r in records]


async def nominate(services: Services, actor: Actor, entry_id: str) -> Nomination:
    """Spend one invite on someone waiting: an invite linked to the entry, whose link the member passes on."""
    await services.limits.hit(services.limits.invite_create, actor.user_id)
    async with services.db.transaction() as conn:
        record = await repo_invites.get_waitlist_entry(conn, entry_id)
        if record is None:
            raise refuse(ErrorCode.NOT_FOUND, "No such waitlist entry.")
        if record.nominated_at is not None or record.dismissed_at is not None:
            raise refuse(ErrorCode.CONFLICT, "Someone has already nominated this person.")
        await spend_quota(conn, actor)
        if not await repo_invites.mark_nominated(conn, entry_id, actor.user_id, services.clock.now()):
            raise refuse(ErrorCode.CONFLICT, "Someone has already nominated this person.")
        invite_id, code, expires_at = await issue_invite(services, conn, created_by=actor.user_id, waitlist_id=entry_id)
        await admin.log_waitlist_let_in(services, conn, actor, entry_id, record.name)
        left = await repo.invites_left(conn, actor.user_id)
    invite = NewInvite(invite_id, code, invite_link(services, code), expires_at, left)
    return Nomination(_entry(record, actor), invite)
