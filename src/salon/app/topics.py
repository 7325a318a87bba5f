"""App layer: a member's topics of interest — read and replace their picks from the fixed list
(``domain/topics.py`` checks them). They show on the member's profile (``app/accounts.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from salon.app.services import Services
from salon.app.sessions import Actor
from salon.domain.topics import check_topics
from salon.store import repo_topics


async def my_topics(services: Services, actor: Actor) -> list[str]:
    async with services.db.read() as conn:
        return await repo_topics.get_topics(conn, actor.user_id)


async def set_my_topics(services: Services, actor: Actor, topics: Sequence[str]) -> list[str]:
    """Replace the actor's topics; ``invalid_input`` for an unknown topic or too many."""
    kept = check_topics(topics)
    async with services.db.transaction() as conn:
        await repo_topics.set_topics(conn, actor.user_id, kept)
    return kept
