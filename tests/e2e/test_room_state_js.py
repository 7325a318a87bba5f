"""The web client's room view (``static/app/room_state.js``) against the server's own rules
(``domain/room_view.py``): a real scenario's snapshot and events, replayed through both in real Chromium, give the
same view after every event — including a big room's batched audience and the end."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright

from salon.app import audience, interpretation, stage, stage_invites
from salon.app.fakes import FakeClock, RecordingBus
from salon.app.rooms import NewRoom, create_room, end_room, get_snapshot
from salon.app.services import Services
from salon.domain.interpretation import RoomLanguages
from salon.domain.room_view import apply_event, hand_queue
from salon.domain.rooms import RoomType
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.people import add_member

ROOM_STATE_JS = Path(__file__).parents[2] / "src" / "salon" / "web" / "static" / "app" / "room_state.js"


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS))
        try:
            page = await browser.new_page()
            await page.set_content("<!doctype html><title>room_state</title>")
            module = ROOM_STATE_JS.read_text() + "\nwindow.roomState = { applyEvent, handQueue };\n"
            await page.add_script_tag(type="module", content=module)
            await page.wait_for_function("window.roomState !== undefined")
            yield page
        finally:
            await browser.close()


async def scenario(services: Services) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A room through joins, hands, the stage, mutes, roles, interpretation channels and booths, a batched audience,
    leaving (an interpreter's booth empties) and the end."""
    clock = services.clock
    assert isinstance(clock, FakeClock)
    bus = services.bus
    assert isinstance(bus, RecordingBus)
    ada = await add_member(services, "ada")
    room = (await create_room(services, ada, NewRoom("Talk", "", ["x"], RoomType.OPEN)))["room"]["id"]
    start = await get_snapshot(services, ada, room)
    published = len(bus.rooms)
    people = [await add_member(services, f"m{i}") for i in range(8)]
    bob, cat, dan = people[:3]
    for who in (bob, cat, dan):
        clock.advance(1)
        await stage.join(services, who, room)
    clock.advance(1)
    await stage.raise_hand(services, bob, room)
    clock.advance(1)
    await stage.raise_hand(services, cat, room)
    await stage.invite_up(services, ada, room, bob)
    await stage.accept_stage_invite(services, bob, room)
    await stage.set_self_muted(services, bob, room, False)
    await stage.mute(services, ada, room, bob, True)
    await stage.unlock_mute(services, ada, room, bob)
    await stage.set_moderator(services, ada, room, bob, True)
    await stage.invite_up(services, ada, room, dan)
    await stage.decline_stage_invite(services, dan, room)
    await stage.set_hands_enabled(services, ada, room, False)
    await stage.set_hands_enabled(services, ada, room, True)
    await stage.raise_hand(services, dan, room)
    await stage.invite_up(services, ada, room, dan)  # unanswered: it lapses, and the hand goes down with it
    clock.advance(services.settings.stage_invite_ttl_s)
    assert len(await stage_invites.expire_lapsed(services)) == 1
    await stage.raise_hand(services, dan, room)
    await interpretation.set_languages(services, ada, room, RoomLanguages("en", ("ru", "fr")), -15)
    await interpretation.assign_interpreter(services, ada, room, "ru", cat)
    await interpretation.assign_interpreter(services, ada, room, "ru", dan)
    await interpretation.take_booth(services, cat, room, "ru")
    await interpretation.offer_handover(services, cat, room, "ru")
    await interpretation.take_booth(services, dan, room, "ru")
    await interpretation.release_booth(services, dan, room, "ru")
    await interpretation.take_booth(services, cat, room, "ru")
    await interpretation.remove_interpreter(services, ada, room, "ru", dan)
    await interpretation.set_languages(services, ada, room, RoomLanguages("en", ("ru",)), -20)
    for who in people[3:]:  # past the test settings' batch threshold (5): the audience becomes a count
        clock.advance(1)
        await stage.join(services, who, room)
    await audience.flush_counts(services)
    await stage.move_to_audience(services, ada, room, bob)
    await stage.remove(services, ada, room, cat)
    await stage.leave(services, people[4], room)
    await audience.flush_counts(services)
    await stage.lower_hand(services, dan, room)
    await end_room(services, ada, room)
    events = [
        {"seq": m.seq, "name": m.name, "data": json.loads(json.dumps(m.data))}
        for m in bus.rooms[published:]
        if m.room_id == room
    ]
    return json.loads(json.dumps(start)), events


async def test_the_browser_and_the_server_agree_on_every_view(services: Services, page: Page) -> None:
    start, events = await scenario(services)
    names = {e["name"] for e in events}
    assert {
        "participant_joined",
        "role_changed",
        "mute_changed",
        "stage_invite_declined",
        "stage_invite_expired",
        "audience_batched",
        "interpretation_changed",
        "room_ended",
    } <= names
    expected = []
    view = start
    for e in events:
        view = apply_event(view, e["seq"], e["name"], e["data"])
        expected.append({"view": view, "hands": hand_queue(view)})
    replayed = await page.evaluate(
        """([start, events]) => {
            let view = start;
            return events.map((e) => {
                view = window.roomState.applyEvent(view, e.seq, e.name, e.data);
                return { view, hands: window.roomState.handQueue(view) };
            });
        }""",
        [start, events],
    )
    assert len(replayed) == len(events) > 20
    for e, want, got in zip(events, expected, replayed, strict=True):
        assert got == want, f"after event {e['seq']} {e['name']}"
