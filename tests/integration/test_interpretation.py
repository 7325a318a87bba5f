"""Interpretation channels against the real database (both engines), with FakeMedia recording the port's calls:
languages at creation and live, interpreters assigned and removed by moderators, the booth's floor moved by the
interpreters, the moderation log, the snapshot + events == fresh snapshot rule, and what a member hears."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from salon.app import interpretation as interp
from salon.app import media as media_app
from salon.app import stage
from salon.app.fakes import FakeMedia, RecordingBus
from salon.app.media_events import recover_media
from salon.app.moderation import read_log
from salon.app.rooms import NewRoom, create_room, end_room, get_snapshot
from salon.app.services import Services
from salon.domain.errors import DomainError, ErrorCode
from salon.domain.interpretation import Booth, RoomLanguages
from salon.domain.room_view import apply_event
from salon.domain.rooms import RoomType
from tests.support.people import add_member

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers

EN_RU_FR = RoomLanguages("en", ("ru", "fr"))


def fake(services: Services) -> FakeMedia:
    assert isinstance(services.media, FakeMedia)
    return services.media


async def verify(services: Services, viewer: str, room_id: str, action: Callable[[], Awaitable[Any]]) -> None:
    """Zulip's verify_action: the snapshot before, plus the events published, equals a fresh snapshot."""
    bus = services.bus
    assert isinstance(bus, RecordingBus)
    before = await get_snapshot(services, viewer, room_id)
    published = len(bus.rooms)
    done = await action()
    view = before
    for m in bus.rooms[published:]:
        assert m.seq == view["seq"] + 1
        json.dumps(m.data)
        view = apply_event(view, m.seq, m.name, m.data)
    assert view == await get_snapshot(services, viewer, room_id)
    assert view["seq"] == done.seq


async def refused(code: ErrorCode, action: Awaitable[Any]) -> None:
    with pytest.raises(DomainError) as caught:
        await action
    assert caught.value.code is code


async def log_of(services: Services, room: str, viewer: str) -> list[tuple[str, str | None, str | None, Any]]:
    """The log's entries after the scene's own (bringing the speaker up), oldest first."""
    page = await read_log(services, viewer, room, limit=100)
    return [
        (e.action.value, e.actor.user_id if e.actor else None, e.target.user_id if e.target else None, e.data)
        for e in reversed(page.items)
        if e.action.value != "invite_up"
    ]


async def scene(services: Services, languages: RoomLanguages | None = EN_RU_FR) -> tuple[str, dict[str, str]]:
    people = {n: await add_member(services, n) for n in ("moda", "ivan", "olga", "lena", "spk")}
    spec = NewRoom("Talk", "", [], RoomType.OPEN, languages=languages, ducking_db=-20)
    room = str((await create_room(services, people["moda"], spec))["room"]["id"])
    for who in ("ivan", "olga", "lena", "spk"):
        await stage.join(services, people[who], room)
    await stage.invite_up(services, people["moda"], room, people["spk"])
    await stage.accept_stage_invite(services, people["spk"], room)
    return room, people


async def test_a_room_created_with_languages_has_its_channels_in_the_snapshot_and_the_media_plane(
    services: Services,
) -> None:
    room, p = await scene(services)
    view = await get_snapshot(services, p["lena"], room)
    assert view["interpretation"] == {
        "floor": "en",
        "ducking_db": -20,
        "channels": [
            {"language": "ru", "interpreters": [], "live": None, "handover_to": None},
            {"language": "fr", "interpreters": [], "live": None, "handover_to": None},
        ],
    }
    assert fake(services).channels == {(room, "ru"): -20, (room, "fr"): -20}
    calls = fake(services).calls
    assert calls.index(("create_channel", room, "ru")) > calls.index(("create_room", room))


async def test_a_room_without_languages_has_none(services: Services) -> None:
    room, p = await scene(services, None)
    assert (await get_snapshot(services, p["lena"], room))["interpretation"] is None
    assert fake(services).channels == {}
    await refused(ErrorCode.NOT_FOUND, interp.assign_interpreter(services, p["moda"], room, "ru", p["ivan"]))
    await refused(ErrorCode.NOT_FOUND, interp.pick_language(services, p["lena"], room, "ru"))


async def test_moderators_set_languages_live_and_channels_follow(services: Services) -> None:
    room, p = await scene(services, None)
    media = fake(services)
    await refused(ErrorCode.NOT_ALLOWED, interp.set_languages(services, p["spk"], room, EN_RU_FR, -15))
    await verify(services, p["lena"], room, lambda: interp.set_languages(services, p["moda"], room, EN_RU_FR, -15))
    assert media.channels == {(room, "ru"): -15, (room, "fr"): -15}
    await interp.assign_interpreter(services, p["moda"], room, "ru", p["ivan"])
    # ru kept (with its booth), fr dropped, de added
    new = RoomLanguages("en", ("ru", "de"))
    await verify(services, p["lena"], room, lambda: interp.set_languages(services, p["moda"], room, new, -15))
    assert set(media.channels) == {(room, "ru"), (room, "de")}
    assert ("destroy_channel", room, "fr") in media.calls
    assert media.booths[(room, "ru")].interpreters == (p["ivan"],)
    # the same again changes nothing and logs nothing
    seq = (await get_snapshot(services, p["lena"], room))["seq"]
    assert (await interp.set_languages(services, p["moda"], room, new, -15)).seq == seq
    await verify(services, p["lena"], room, lambda: interp.set_languages(services, p["moda"], room, None, -15))
    assert media.channels == {}
    assert [e[0] for e in await log_of(services, room, p["moda"])] == [
        "set_languages",
        "assign_interpreter",
        "set_languages",
        "set_languages",
    ]


async def test_only_moderators_assign_and_only_members_in_the_room(services: Services) -> None:
    room, p = await scene(services)
    outsider = await add_member(services, "outsider")
    await refused(ErrorCode.NOT_ALLOWED, interp.assign_interpreter(services, p["spk"], room, "ru", p["ivan"]))
    await refused(ErrorCode.NOT_ALLOWED, interp.assign_interpreter(services, p["lena"], room, "ru", p["ivan"]))
    await refused(ErrorCode.NOT_IN_ROOM, interp.assign_interpreter(services, p["moda"], room, "ru", outsider))
    await refused(ErrorCode.NOT_FOUND, interp.assign_interpreter(services, p["moda"], room, "de", p["ivan"]))
    await verify(
        services, p["lena"], room, lambda: interp.assign_interpreter(services, p["moda"], room, "ru", p["ivan"])
    )
    await refused(ErrorCode.CONFLICT, interp.assign_interpreter(services, p["moda"], room, "fr", p["ivan"]))
    await interp.assign_interpreter(services, p["moda"], room, "ru", p["olga"])
    await refused(ErrorCode.CONFLICT, interp.assign_interpreter(services, p["moda"], room, "ru", p["lena"]))
    assert fake(services).booths[(room, "ru")] == Booth("ru", (p["ivan"], p["olga"]))
    assert await log_of(services, room, p["moda"]) == [
        ("assign_interpreter", p["moda"], p["ivan"], {"language": "ru"}),
        ("assign_interpreter", p["moda"], p["olga"], {"language": "ru"}),
    ]


async def test_the_booth_floor_handover_and_removal(services: Services) -> None:
    room, p = await scene(services)
    media = fake(services)
    mod, ivan, olga = p["moda"], p["ivan"], p["olga"]
    await interp.assign_interpreter(services, mod, room, "ru", ivan)
    await interp.assign_interpreter(services, mod, room, "ru", olga)
    await refused(ErrorCode.NOT_ALLOWED, interp.take_booth(services, p["lena"], room, "ru"))
    await verify(services, p["lena"], room, lambda: interp.take_booth(services, ivan, room, "ru"))
    assert media.booths[(room, "ru")].live == ivan
    await refused(ErrorCode.CONFLICT, interp.take_booth(services, olga, room, "ru"))
    await verify(services, p["lena"], room, lambda: interp.offer_handover(services, ivan, room, "ru"))
    await verify(services, p["lena"], room, lambda: interp.take_booth(services, olga, room, "ru"))
    assert media.booths[(room, "ru")] == Booth("ru", (ivan, olga), olga, None)
    # the interpreter's connection: only the booth's members
    await refused(ErrorCode.NOT_ALLOWED, interp.open_interpret(services, p["lena"], room, "ru", {"type": "offer"}))
    await interp.open_interpret(services, olga, room, "ru", {"type": "offer", "sdp": "v=0"})
    assert media.interpreting[(room, olga)] == "ru"
    # removing the live interpreter cuts her channel audio at once; the channel falls back to the floor
    await refused(ErrorCode.NOT_ALLOWED, interp.remove_interpreter(services, ivan, room, "ru", olga))
    await verify(services, p["lena"], room, lambda: interp.remove_interpreter(services, mod, room, "ru", olga))
    assert media.calls[-1] == ("set_booth", room, "ru", "")
    assert (room, olga) not in media.interpreting
    await refused(ErrorCode.NOT_ALLOWED, interp.open_interpret(services, olga, room, "ru", {"type": "offer"}))
    await interp.release_booth(services, ivan, room, "ru")  # not live: nothing changes
    assert [e[:3] for e in await log_of(services, room, mod)] == [
        ("assign_interpreter", mod, ivan),
        ("assign_interpreter", mod, olga),
        ("hand_over", olga, ivan),
        ("remove_interpreter", mod, olga),
    ]


async def test_listeners_pick_a_channel_and_speakers_hear_the_interpreter_only(services: Services) -> None:
    room, p = await scene(services)
    media = fake(services)
    await refused(ErrorCode.NOT_FOUND, interp.pick_language(services, p["lena"], room, "de"))
    await interp.open_channel_listen(services, p["lena"], room, "ru")
    assert media.calls[-1] == ("open_channel_listen", room, "ru", p["lena"])
    await refused(ErrorCode.CONFLICT, interp.pick_language(services, p["lena"], room, "fr"))  # not answered yet
    await media_app.answer_listen(services, p["lena"], room, {"type": "answer", "sdp": "v=0"})
    await interp.pick_language(services, p["lena"], room, None)
    assert media.listening[(room, p["lena"])] is None
    await interp.pick_language(services, p["lena"], room, "fr")
    assert media.listening[(room, p["lena"])] == "fr"
    outsider = await add_member(services, "outsider")
    await refused(ErrorCode.NOT_IN_ROOM, interp.pick_language(services, outsider, room, "fr"))
    await interp.open_channel_listen(services, p["spk"], room, "ru")
    assert media.interpreter_only.get((room, p["spk"])) is True
    assert media.interpreter_only.get((room, p["lena"])) is False


async def test_channels_end_with_the_room_and_come_back_after_a_media_reset(services: Services) -> None:
    room, p = await scene(services)
    media = fake(services)
    await interp.assign_interpreter(services, p["moda"], room, "ru", p["ivan"])
    await interp.take_booth(services, p["ivan"], room, "ru")
    await media.reconnect()
    assert media.channels == {}
    await recover_media(services)
    assert set(media.channels) == {(room, "ru"), (room, "fr")}
    assert media.booths[(room, "ru")].live == p["ivan"]
    await end_room(services, p["moda"], room)
    assert media.channels == {}
    await refused(ErrorCode.ROOM_ENDED, interp.take_booth(services, p["ivan"], room, "ru"))


async def test_an_interpreter_who_leaves_or_is_removed_leaves_the_booth(services: Services) -> None:
    room, p = await scene(services)
    media = fake(services)
    mod, ivan, olga = p["moda"], p["ivan"], p["olga"]
    await interp.assign_interpreter(services, mod, room, "ru", ivan)
    await interp.assign_interpreter(services, mod, room, "fr", olga)
    await interp.take_booth(services, ivan, room, "ru")
    await interp.open_interpret(services, ivan, room, "ru", {"type": "offer", "sdp": "v=0"})
    await verify(services, p["lena"], room, lambda: stage.leave(services, ivan, room))
    assert media.booths[(room, "ru")] == Booth("ru")  # nobody live: the channel plays the floor
    assert (room, ivan) not in media.interpreting
    await verify(services, p["lena"], room, lambda: stage.remove(services, mod, room, olga))
    assert media.booths[(room, "fr")] == Booth("fr")
    view = await get_snapshot(services, p["lena"], room)
    assert [c["interpreters"] for c in view["interpretation"]["channels"]] == [[], []]
    await stage.join(services, ivan, room)  # back in the room, but no longer an interpreter
    await refused(ErrorCode.NOT_ALLOWED, interp.take_booth(services, ivan, room, "ru"))
    await verify(services, p["lena"], room, lambda: stage.leave(services, p["lena"], room))  # no booth: no event


async def test_moderators_change_the_ducking_live_in_every_channel(services: Services) -> None:
    room, p = await scene(services)
    media = fake(services)
    await refused(ErrorCode.NOT_ALLOWED, interp.set_ducking(services, p["spk"], room, -30))
    await refused(ErrorCode.NOT_ALLOWED, interp.set_ducking(services, p["lena"], room, -30))
    await refused(ErrorCode.INVALID_INPUT, interp.set_ducking(services, p["moda"], room, -41))
    await refused(ErrorCode.INVALID_INPUT, interp.set_ducking(services, p["moda"], room, 0))
    await interp.assign_interpreter(services, p["moda"], room, "ru", p["ivan"])
    await interp.take_booth(services, p["ivan"], room, "ru")
    await verify(services, p["lena"], room, lambda: interp.set_ducking(services, p["moda"], room, -30))
    view = await get_snapshot(services, p["lena"], room)
    assert view["interpretation"]["ducking_db"] == -30
    assert [b["live"] for b in view["interpretation"]["channels"]] == [p["ivan"], None]  # the booths stay
    assert media.channels == {(room, "ru"): -30, (room, "fr"): -30}
    assert [c for c in media.calls if c[0] == "set_ducking"] == [
        ("set_ducking", room, "ru", "-30"),
        ("set_ducking", room, "fr", "-30"),
    ]
    # the same again changes nothing, publishes nothing and logs nothing
    seq = view["seq"]
    assert (await interp.set_ducking(services, p["moda"], room, -30)).seq == seq
    # set_languages with another ducking changes it in the channels kept too
    await interp.set_languages(services, p["moda"], room, RoomLanguages("en", ("ru",)), -12)
    assert media.channels == {(room, "ru"): -12}
    assert [e for e in await log_of(services, room, p["moda"]) if e[0] == "set_languages"] == [
        ("set_languages", p["moda"], None, {"floor": "en", "channels": ["ru", "fr"], "ducking_db": -30}),
        ("set_languages", p["moda"], None, {"floor": "en", "channels": ["ru"], "ducking_db": -12}),
    ]


async def test_a_room_without_languages_has_no_ducking_to_change(services: Services) -> None:
    room, p = await scene(services, None)
    await refused(ErrorCode.NOT_FOUND, interp.set_ducking(services, p["moda"], room, -30))


async def test_listeners_hear_a_channel_on_the_broadcast_tier(services: Services) -> None:
    room, p = await scene(services)
    media = fake(services)
    grant = await interp.open_channel_stream(services, p["lena"], room, "ru", "conn-1")
    assert "ticket=" in grant.url
    assert media.streams[(room, p["lena"])] == "conn-1"
    assert media.listening[(room, p["lena"])] == "ru"
    await refused(ErrorCode.NOT_FOUND, interp.open_channel_stream(services, p["lena"], room, "de", "conn-1"))
    outsider = await add_member(services, "outsider")
    await refused(ErrorCode.NOT_IN_ROOM, interp.open_channel_stream(services, outsider, room, "ru", "conn-2"))
