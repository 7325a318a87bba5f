"""Web layer: getting started — my topics of interest (read, replace) and people to follow. Thin: validate, call
one use case (``app/topics.py``, ``app/onboarding.py``), shape the answer. Every route needs a session."""

from __future__ import annotations

from fastapi import APIRouter

from salon.app import onboarding, topics
from salon.domain.topics import MAX_PICKS, TOPICS
from salon.web.auth import CurrentActor
from salon.web.deps import ServicesDep
from salon.web.schemas_onboarding import SuggestionOut, SuggestionsOut, TopicsIn, TopicsOut

router = APIRouter(tags=["members"])


def _topics_out(mine: list[str]) -> TopicsOut:
    return TopicsOut(topics=mine, choices=list(TOPICS), max_picks=MAX_PICKS)


@router.get("/me/topics", summary="My topics of interest, and the topics one may pick")
async def get_topics(actor: CurrentActor, services: ServicesDep) -> TopicsOut:
    return _topics_out(await topics.my_topics(services, actor))


@router.put("/me/topics", summary="Replace my topics of interest")
async def put_topics(body: TopicsIn, actor: CurrentActor, services: ServicesDep) -> TopicsOut:
    """At most five, from the fixed list; a topic sent twice counts once. `invalid_input` otherwise."""
    picked = [t.value for t in body.topics]
    return _topics_out(await topics.set_my_topics(services, actor, picked))


@router.get("/me/suggestions", summary="People to follow while getting started")
async def get_suggestions(actor: CurrentActor, services: ServicesDep) -> SuggestionsOut:
    """Whoever invited you first, then the people they follow, then members who opened rooms lately."""
    found = await onboarding.people_to_follow(services, actor)
    return SuggestionsOut(people=[SuggestionOut.of(s) for s in found])
