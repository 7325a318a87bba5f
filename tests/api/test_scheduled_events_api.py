"""The events, calendar and notifications API over in-process HTTP: validation in the one error shape, times in the
viewer's zone, the .ics files parsed back with the same library, the feed's secret URL, notifications."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from icalendar import Calendar

from salon.app.fakes import FakeClock
from salon.app.services import Services
from salon.app.sessions import hash_token
from salon.app.settings import Settings
from salon.store.tables import calendar_feeds
from tests.support.api import app_for, assert_error, bearer, client_for, signup
from tests.support.scheduled_events import with_event_routes

Client = httpx.AsyncClient
# The fake clock starts at 2026-01-01 12:00 UTC.
STARTS = "2026-01-05T19:00:00+01:00"


@pytest.fixture
async def client(settings: Settings, services: Services) -> AsyncIterator[Client]:
    async with client_for(with_event_routes(app_for(settings, services))) as c:
        yield c


async def member(client: Client, services: Services, name: str) -> tuple[str, dict[str, str]]:
    body = await signup(client, services, name, mode="bearer")
    return body["user"]["id"], bearer(body["token"])


async def create(client: Client, auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"title": "Jazz standards", "starts_at": STARTS, "timezone": "Europe/Paris", **fields}
    response = await client.post("/events", json=body, headers=auth)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def parse(response: httpx.Response) -> list[Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    return list(Calendar.from_ical(response.content).walk("VEVENT"))


# --- events --------------------------------------------------------------------------------------------------------


async def test_validation_errors_have_the_one_shape(client: Client, services: Services) -> None:
    _, auth = await member(client, services, "ada")
    base = {"title": "Jazz", "starts_at": STARTS}
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({**base, "starts_at": "2026-01-05T19:00:00"}, "starts_at"),  # no offset
        ({**base, "starts_at": "2025-01-05T19:00:00+01:00"}, "starts_at"),  # past
        ({**base, "timezone": "Paris"}, "timezone"),
        ({**base, "title": "   "}, "title"),
        ({**base, "hosts": ["nobody"]}, "hosts"),
        ({**base, "room_type": "secret"}, None),
        ({**base, "colour": "red"}, None),
        ({"title": "No time"}, None),
    ]
    for body, field in cases:
        error = assert_error(await client.post("/events", json=body, headers=auth), 422, "invalid_input")
        if field is not None:
            assert error["data"]["field"] == field, body
    assert_error(await client.get("/events?tz=Mars/Base", headers=auth), 422, "invalid_input")
    assert_error(await client.get("/events?limit=0", headers=auth), 422, "invalid_input")
    assert_error(await client.get("/events?cursor=zzz", headers=auth), 422, "invalid_input")
    assert_error(await client.get("/events/nope", headers=auth), 404, "not_found")
    assert_error(await client.get("/events/bad.id", headers=auth), 422, "invalid_input")


async def test_times_are_shown_in_the_events_zone_or_the_viewers(client: Client, services: Services) -> None:
    _, auth = await member(client, services, "ada")
    made = await create(client, auth, description="Ballads first", topics=["jazz", "piano"])
    assert (made["starts_at"], made["timezone"], made["shown_in"]) == (STARTS, "Europe/Paris", "Europe/Paris")
    assert (made["status"], made["sequence"], made["rsvp_count"], made["is_host"]) == ("scheduled", 0, 0, True)
    assert made["ics_url"] == f"/api/v1/events/{made['id']}.ics"
    assert [h["username"] for h in made["hosts"]] == ["ada"]
    there = (await client.get(f"/events/{made['id']}?tz=America/New_York", headers=auth)).json()
    assert (there["starts_at"], there["shown_in"]) == ("2026-01-05T13:00:00-05:00", "America/New_York")
    utc = (await client.get("/events?tz=UTC", headers=auth)).json()
    assert [e["starts_at"] for e in utc["events"]] == ["2026-01-05T18:00:00+00:00"]
    assert utc["next_cursor"] is None


async def test_an_event_through_its_life(client: Client, services: Services, clock: FakeClock) -> None:
    _, ada = await member(client, services, "ada")
    bob_id, bob = await member(client, services, "bob")
    _, dee = await member(client, services, "dee")
    made = await create(client, ada, hosts=[bob_id])
    path = f"/events/{made['id']}"
    edited = await client.patch(path, json={"title": "Ballads", "topics": ["ballads"]}, headers=bob)
    assert (edited.json()["title"], edited.json()["sequence"]) == ("Ballads", 1)
    assert_error(await client.patch(path, json={"hosts": []}, headers=bob), 403, "not_allowed")
    rsvp = (await client.put(f"{path}/rsvp", headers=dee)).json()
    assert (rsvp["rsvp_count"], rsvp["rsvped"]) == (1, True)
    assert (await client.put(f"{path}/rsvp", headers=dee)).json()["rsvp_count"] == 1
    early = assert_error(await client.post(f"{path}/start", headers=bob), 409, "conflict")
    assert early["data"]["reason"] == "too_early"

    clock.advance((4 * 24 + 6) * 3600 + 50 * 60)  # 10 minutes before 18:00 UTC on the 5th
    started = (await client.post(f"{path}/start", headers=bob)).json()
    assert started["status"] == "live"
    room = (await client.get(f"/rooms/{started['room_id']}", headers=dee)).json()
    assert room["room"]["title"] == "Ballads"
    assert (await client.post(f"{path}/start", headers=ada)).json()["room_id"] == started["room_id"]
    assert (await client.post(f"/rooms/{started['room_id']}/join", headers=ada)).status_code == 200
    room = (await client.get(f"/rooms/{started['room_id']}", headers=dee)).json()
    assert sorted(p["user"]["username"] for p in room["stage"] if p["role"] == "moderator") == ["ada", "bob"]

    notes = (await client.get("/notifications", headers=dee)).json()
    assert notes["unread_count"] == 1
    [note] = notes["notifications"]
    assert (note["kind"], note["data"]["room_id"], note["read_at"]) == ("event_started", started["room_id"], None)
    assert (await client.get("/notifications", headers=ada)).json()["notifications"][0]["kind"] == "event_started"
    assert (await client.get("/notifications", headers=bob)).json()["unread_count"] == 0


async def test_a_closed_event_and_its_guests(client: Client, services: Services) -> None:
    _, ada = await member(client, services, "ada")
    dee_id, dee = await member(client, services, "dee")
    _, eve = await member(client, services, "eve")
    made = await create(client, ada, room_type="closed")
    path = f"/events/{made['id']}"
    assert_error(await client.get(path, headers=dee), 404, "not_found")
    assert (await client.get("/events", headers=dee)).json()["events"] == []
    invited = await client.post(f"{path}/invite", json={"user_id": dee_id}, headers=ada)
    assert invited.json()["rsvp_count"] == 1
    assert (await client.get(path, headers=dee)).json()["rsvped"] is True
    [note] = (await client.get("/notifications", headers=dee)).json()["notifications"]
    assert (note["kind"], note["data"]["event_id"]) == ("event_invited", made["id"])
    assert note["data"]["inviter"]["id"] == note["data"]["by"], "who invited them, as a card to show"
    await client.post(f"{path}/invite", json={"user_id": dee_id}, headers=ada)
    assert (await client.get("/notifications", headers=dee)).json()["unread_count"] == 1  # told once
    assert_error(await client.post(f"{path}/invite", json={"user_id": "ghost"}, headers=ada), 404, "not_found")
    assert_error(await client.get(f"{path}.ics", headers=eve), 404, "not_found")


# --- iCalendar -----------------------------------------------------------------------------------------------------


async def test_an_events_ics_has_a_stable_uid_its_sequence_and_status(client: Client, services: Services) -> None:
    _, ada = await member(client, services, "ada")
    made = await create(client, ada, description="Ballads first", topics=["jazz", "piano"])
    ics = f"/events/{made['id']}.ics"
    [vevent] = parse(await client.get(ics, headers=ada))
    assert str(vevent["UID"]) == f"{made['id']}@salon"
    assert (int(vevent["SEQUENCE"]), str(vevent["STATUS"]), str(vevent["SUMMARY"])) == (
        0,
        "CONFIRMED",
        "Jazz standards",
    )
    assert vevent.decoded("DTSTART").isoformat() == STARTS
    assert vevent["DTSTART"].params["TZID"] == "Europe/Paris"
    assert str(vevent["URL"]) == f"{services.settings.public_url}/events/{made['id']}"
    assert "Ballads first" in str(vevent["DESCRIPTION"])
    assert "Topics: jazz, piano" in str(vevent["DESCRIPTION"])
    assert vevent.decoded("DTSTAMP") is not None
    response = await client.get(ics, headers=ada)
    assert response.headers["content-disposition"] == f'attachment; filename="salon-{made["id"]}.ics"'

    await client.patch(f"/events/{made['id']}", json={"title": "Renamed"}, headers=ada)
    await client.post(f"/events/{made['id']}/cancel", headers=ada)
    [vevent] = parse(await client.get(ics, headers=ada))
    assert (str(vevent["UID"]), int(vevent["SEQUENCE"]), str(vevent["STATUS"])) == (
        f"{made['id']}@salon",
        2,
        "CANCELLED",
    )
    assert_error(await client.get(ics), 401, "not_authenticated")


async def test_the_calendar_feed_is_a_revocable_secret_url(client: Client, services: Services) -> None:
    ada_id, ada = await member(client, services, "ada")
    _, dee = await member(client, services, "dee")
    hosted = await create(client, ada, title="Hosted")
    gone = await create(client, ada, title="Cancelled")
    await client.post(f"/events/{gone['id']}/cancel", headers=ada)
    theirs = await create(client, dee, title="Dee's", starts_at="2026-01-06T10:00:00Z")
    await create(client, dee, title="Not for ada")
    await client.put(f"/events/{theirs['id']}/rsvp", headers=ada)

    assert (await client.get("/me/calendar-feed", headers=ada)).json() == {"active": False, "created_at": None}
    made = await client.post("/me/calendar-feed", headers=ada)
    assert made.status_code == 201
    url = made.json()["url"]
    prefix = f"{services.settings.public_url}/api/v1/calendar/"
    assert url.startswith(prefix)
    assert url.endswith(".ics")
    token = url[len(prefix) : -len(".ics")]
    assert len(token) >= 43  # 256 random bits; at least 128 required
    assert (await client.get("/me/calendar-feed", headers=ada)).json()["active"] is True
    async with services.db.read() as conn:
        stored = (await conn.execute(calendar_feeds.select())).mappings().one()
    assert (stored["user_id"], stored["token_hash"]) == (ada_id, hash_token(services.secret, token))

    feed = await client.get(f"/calendar/{token}.ics")  # no session: the token is the credential
    assert feed.headers["referrer-policy"] == "no-referrer"
    vevents = parse(feed)
    by_title = {str(v["SUMMARY"]): v for v in vevents}
    assert set(by_title) == {"Hosted", "Cancelled", "Dee's"}
    assert str(by_title["Cancelled"]["STATUS"]) == "CANCELLED"
    assert str(by_title["Hosted"]["STATUS"]) == "CONFIRMED"
    assert str(by_title["Hosted"]["UID"]) == f"{hosted['id']}@salon"
    assert by_title["Dee's"].decoded("DTSTART") == datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
    assert str(Calendar.from_ical(feed.content)["X-WR-CALNAME"]) == "Salon: Ada"

    rotated = (await client.post("/me/calendar-feed", headers=ada)).json()["url"]
    new_token = rotated[len(prefix) : -len(".ics")]
    assert new_token != token
    assert_error(await client.get(f"/calendar/{token}.ics"), 404, "not_found")
    assert len(parse(await client.get(f"/calendar/{new_token}.ics"))) == 3

    assert_error(await client.get("/calendar/not-a-token.ics"), 404, "not_found")
    assert_error(await client.get(f"/calendar/{'x' * 150}.ics"), 404, "not_found")
    assert (await client.delete("/me/calendar-feed", headers=ada)).json() == {"active": False, "created_at": None}
    assert_error(await client.get(f"/calendar/{new_token}.ics"), 404, "not_found")
    assert (await client.delete("/me/calendar-feed", headers=ada)).status_code == 200


async def test_a_disabled_members_feed_stops_working(client: Client, services: Services) -> None:
    from salon.store import repo_accounts

    ada_id, ada = await member(client, services, "ada")
    token = (await client.post("/me/calendar-feed", headers=ada)).json()["url"].rsplit("/", 1)[1]
    assert (await client.get(f"/calendar/{token}")).status_code == 200
    async with services.db.transaction() as conn:
        await repo_accounts.set_disabled(conn, ada_id, services.clock.now())
    assert_error(await client.get(f"/calendar/{token}"), 404, "not_found")


# --- notifications -------------------------------------------------------------------------------------------------


async def test_notifications_read_marks(client: Client, services: Services, clock: FakeClock) -> None:
    _, ada = await member(client, services, "ada")
    dee_id, dee = await member(client, services, "dee")
    for title in ("One", "Two", "Three"):
        made = await create(client, ada, title=title, room_type="closed")
        await client.post(f"/events/{made['id']}/invite", json={"user_id": dee_id}, headers=ada)
        clock.advance(1)
    page = (await client.get("/notifications?limit=2", headers=dee)).json()
    assert [n["data"]["title"] for n in page["notifications"]] == ["Three", "Two"]
    assert page["unread_count"] == 3
    rest = (await client.get(f"/notifications?cursor={page['next_cursor']}", headers=dee)).json()
    assert [n["data"]["title"] for n in rest["notifications"]] == ["One"]
    first = page["notifications"][0]["id"]
    assert (await client.post("/notifications/read", json={"ids": [first]}, headers=dee)).json() == {"unread_count": 2}
    assert (await client.post("/notifications/read", json={"all": True}, headers=dee)).json() == {"unread_count": 0}
    for body in ({}, {"ids": [first], "all": True}, {"all": False}, {"ids": "x"}):
        assert_error(await client.post("/notifications/read", json=body, headers=dee), 422, "invalid_input")
    assert_error(await client.get("/notifications?cursor=%%%", headers=dee), 422, "invalid_input")
    assert_error(await client.get("/notifications"), 401, "not_authenticated")
