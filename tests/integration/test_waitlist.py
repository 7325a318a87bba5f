"""Waitlist use cases against the real database: asking, listing (contacts for admins), nominating."""

from __future__ import annotations

import pytest

from salon.app import invites, waitlist
from salon.app.fakes import FakeClock
from salon.app.services import Services
from salon.domain.errors import DomainError, ErrorCode
from tests.support.accounts import member, sign_up_code

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


async def test_asking_and_listing(services: Services, clock: FakeClock) -> None:
    root = await member(services, "root", admin=True)
    ada = await member(services, "ada")
    asked_at = clock.now()
    await waitlist.join_waitlist(services, name="  Grace   Hopper ", contact=" grace@example.org ", client_ip="1.1.1.1")
    clock.advance(1)
    await waitlist.join_waitlist(services, name="Alan", contact="@alan", client_ip="1.1.1.2")

    seen = await waitlist.list_waitlist(services, ada)
    assert [(e.name, e.contact) for e in seen] == [("Grace Hopper", None), ("Alan", None)]
    assert seen[0].created_at == asked_at
    by_admin = await waitlist.list_waitlist(services, root)
    assert [e.contact for e in by_admin] == ["grace@example.org", "@alan"]


async def test_asking_twice_adds_nothing_and_answers_the_same(services: Services) -> None:
    root = await member(services, "root", admin=True)
    # The same answer (nothing) both times: no oracle that a contact is already on the list.
    assert await waitlist.join_waitlist(services, name="Grace", contact="g@x.org", client_ip="1.1.1.1") is None  # type: ignore[func-returns-value]
    assert await waitlist.join_waitlist(services, name="Grace H", contact="G@X.ORG", client_ip="1.1.1.1") is None  # type: ignore[func-returns-value]
    assert len(await waitlist.list_waitlist(services, root)) == 1


@pytest.mark.parametrize(
    ("name", "contact", "field"),
    [
        ("", "g@x.org", "name"),
        ("x" * 51, "g@x.org", "name"),
        ("Grace", "ab", "contact"),
        ("Grace", "c" * 201, "contact"),
        ("Grace", "g@x.org\nBcc: y", "contact"),
    ],
)
async def test_invalid_entries(services: Services, name: str, contact: str, field: str) -> None:
    with pytest.raises(DomainError) as exc:
        await waitlist.join_waitlist(services, name=name, contact=contact, client_ip="1.1.1.1")
    assert exc.value.code is ErrorCode.INVALID_INPUT
    assert exc.value.data == {"field": field}


async def test_asking_is_rate_limited_per_address(services: Services) -> None:
    for i in range(20):
        await waitlist.join_waitlist(services, name=f"N{i}", contact=f"n{i}@x.org", client_ip="9.9.9.9")
    with pytest.raises(DomainError) as exc:
        await waitlist.join_waitlist(services, name="N", contact="n@x.org", client_ip="9.9.9.9")
    assert exc.value.code is ErrorCode.RATE_LIMITED
    await waitlist.join_waitlist(services, name="N", contact="n@x.org", client_ip="9.9.9.10")


async def test_nominating_spends_an_invite_that_the_person_can_redeem(services: Services) -> None:
    ada = await member(services, "ada")
    await waitlist.join_waitlist(services, name="Grace", contact="g@x.org", client_ip="1.1.1.1")
    [entry] = await waitlist.list_waitlist(services, ada)

    nomination = await waitlist.nominate(services, ada, entry.id)
    assert nomination.entry.name == "Grace"
    assert nomination.entry.contact is None
    assert nomination.invite.invites_left == 1
    assert nomination.invite.link.endswith(f"/invite/{nomination.invite.code}")
    assert await waitlist.list_waitlist(services, ada) == []

    with pytest.raises(DomainError) as exc:
        await waitlist.nominate(services, ada, entry.id)
    assert exc.value.code is ErrorCode.CONFLICT

    grace = await sign_up_code(services, nomination.invite.code, "grace")
    assert grace.user.invited_by is not None
    assert grace.user.invited_by.id == ada.user_id
    # Asking again after being nominated makes a new entry.
    await waitlist.join_waitlist(services, name="Grace", contact="g@x.org", client_ip="1.1.1.1")
    assert len(await waitlist.list_waitlist(services, ada)) == 1


async def test_admins_see_the_contact_of_whom_they_nominate(services: Services) -> None:
    root = await member(services, "root", admin=True)
    await waitlist.join_waitlist(services, name="Grace", contact="g@x.org", client_ip="1.1.1.1")
    [entry] = await waitlist.list_waitlist(services, root)
    nomination = await waitlist.nominate(services, root, entry.id)
    assert nomination.entry.contact == "g@x.org"
    assert nomination.invite.invites_left == services.settings.invites_per_member - 1


async def test_no_invites_left_leaves_the_entry_waiting(services: Services) -> None:
    ada = await member(services, "ada")
    await invites.create_invite(services, ada)
    await invites.create_invite(services, ada)
    await waitlist.join_waitlist(services, name="Grace", contact="g@x.org", client_ip="1.1.1.1")
    [entry] = await waitlist.list_waitlist(services, ada)
    with pytest.raises(DomainError) as exc:
        await waitlist.nominate(services, ada, entry.id)
    assert exc.value.code is ErrorCode.NO_INVITES_LEFT
    assert [e.id for e in await waitlist.list_waitlist(services, ada)] == [entry.id]


async def test_unknown_entry(services: Services) -> None:
    ada = await member(services, "ada")
    with pytest.raises(DomainError) as exc:
        await waitlist.nominate(services, ada, "nobody")
    assert exc.value.code is ErrorCode.NOT_FOUND
    assert (await invites.list_my_invites(services, ada)).invites_left == 2


async def test_revoking_a_nomination_puts_the_person_back_on_the_list(services: Services) -> None:
    ada = await member(services, "ada")
    await waitlist.join_waitlist(services, name="Grace", contact="g@x.org", client_ip="1.1.1.1")
    [entry] = await waitlist.list_waitlist(services, ada)
    nomination = await waitlist.nominate(services, ada, entry.id)
    assert await invites.revoke_invite(services, ada, nomination.invite.id) == 2
    assert [e.id for e in await waitlist.list_waitlist(services, ada)] == [entry.id]
