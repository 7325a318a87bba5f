"""App layer: interpretation channels in the media plane — make its channels and booths match what was committed.

Called after the commit by the interpretation commands (``interpretation.py``), by the room commands when members
who interpret leave (``room_commands.py``), and when a room goes live or is re-made after a media reset. Apart from
``interpretation.py`` so that ``room_commands`` can use it without importing the commands that import it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.app.ports import MediaRefused, MediaUnavailable, RoomMessage
from salon.app.services import Services
from salon.domain.interpretation import Booth, Interpretation, interpretation_data, vacate
from salon.store import repo_interpretation as repo
from salon.store import repo_rooms

log = logging.getLogger(__name__)


async def apply_to_media(
    services: Services, room_id: str, before: Interpretation | None, after: Interpretation | None
) -> None:
    """Make the media plane's channels and booths match what was committed. A failure is logged, not raised: the
    change is committed, and the media plane is made to match again when it comes back (``media_events``)."""
    old = {b.language: b for b in before.booths} if before is not None else {}
    new = {b.language: b for b in after.booths} if after is not None else {}
    # A new ducking reaches the channels kept; new ones are made with it.
    reducked = after.ducking_db if after is not None and before is not None else None
    if before is not None and reducked == before.ducking_db:
        reducked = None
    try:
        for language in old.keys() - new.keys():
            await services.media.destroy_channel(room_id, language)
        for language, booth in new.items():
            if language not in old:
                assert after is not None
                await services.media.create_channel(room_id, language, after.ducking_db)
                if booth != Booth(language):
                    await services.media.set_booth(room_id, booth)
                continue
            if reducked is not None:
                await services.media.set_ducking(room_id, language, reducked)
            if booth != old[language]:
                await services.media.set_booth(room_id, booth)
    except (MediaUnavailable, MediaRefused) as exc:
        log.warning("interpretation of room %s not applied to the media plane: %s", room_id, exc)


async def open_channels(services: Services, room_id: str, interpretation: Interpretation | None) -> None:
    """A room that goes live (created, started from an event, re-created after a media reset) gets its channels."""
    await apply_to_media(services, room_id, None, interpretation)


async def vacate_booths(
    services: Services, conn: AsyncConnection, room_id: str, leaving: list[str], last_seq: int
) -> tuple[list[RoomMessage], Interpretation | None, Interpretation | None]:
    """Inside a room command's transaction: members who left the room leave their booths (one
    ``interpretation_changed`` event after the command's own). The interpretation before and after, for
    :func:`apply_to_media` once committed."""
    before = await repo.load(conn, room_id)
    if before is None:
        return [], None, None
    after = vacate(before, leaving)
    if after == before:
        return [], before, before
    await repo.save(conn, room_id, after)
    data: dict[str, Any] = {"interpretation": interpretation_data(after)}
    now = services.clock.now()
    seq = await repo_rooms.append_events(
        conn, room_id, last_seq + 1, [("interpretation_changed", data)], now, services.settings.event_window
    )
    return [RoomMessage(room_id, seq, "interpretation_changed", data)], before, after
