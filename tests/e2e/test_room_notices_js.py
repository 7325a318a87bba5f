"""The room's notices (``static/app/room_notices.js``) as units, in real Chromium: which notices a change of the
room's view calls for (``noticesFor``: arriving muted, a moderator's mute named, an invitation lapsed or declined,
what goes stale), how a room over is said (``endedMessage``), and the stack's rules (``NoticeStack``: a close button
and ``role="status"`` on each, the same kind replaced in place, at most three, important ones kept longest).

The module is served from the app's own files on a made-up origin (its imports resolve as in the app)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.support.app_modules import load_app_modules

ORIGIN = "http://notices.test"

# People as the room's view lists them, and a view holding them.
HELPERS_JS = """
window.person = (id, name, role, extra = {}) => ({
  user: { id, username: id, display_name: name, avatar_url: null }, role, joined_at: "t0",
  stage_since: role === "listener" ? null : "t0", hand_raised_at: null, muted: false, mute_locked: false,
  invited_up: false, ...extra,
});
window.viewOf = (...people) => ({
  room: { ended_at: null }, seq: 1, listener_count: people.filter((p) => p.role === "listener").length,
  stage: people.filter((p) => p.role !== "listener"), audience: people.filter((p) => p.role === "listener"),
});
window.event = (name, data) => ({ name, data });
window.ids = (list) => list.map((n) => n.id);
"""


@pytest.fixture
def page(bare_chromium: Browser) -> Iterator[Page]:
    page = bare_chromium.new_page()
    try:
        module = f"import * as m from '{ORIGIN}/app/room_notices.js'; window.notices = m;"
        load_app_modules(page, ORIGIN, "notices", module, "window.notices !== undefined", helpers=[HELPERS_JS])
        yield page
    finally:
        page.close()


def run(page: Page, script: str) -> Any:
    """Run ``script`` (with ``notices`` = the module, and the helpers above) in the page; what it returns."""
    return page.evaluate(f"() => {{ const n = window.notices; {script} }}")


def test_arriving_on_stage_muted_asks_to_talk_and_a_listener_or_a_resync_gets_nothing(page: Page) -> None:
    got = run(
        page,
        """const mona = person("m", "Mona Hart", "moderator", { muted: true });
        const view = viewOf(mona);
        return {
          arrival: n.noticesFor(null, mona, null, [view, null]).show,
          listener: n.noticesFor(null, person("s", "Sam", "listener"), null, [view, null]).show,
          resync: n.noticesFor(mona, mona, null, [view, view]).show,
          locked: n.noticesFor(null, { ...mona, mute_locked: true }, null, [view, null]).show,
        };""",
    )
    [arrival] = got["arrival"]
    assert (arrival["id"], arrival["text"], arrival["important"]) == ("muted", "You’re muted — tap to talk.", True)
    assert (arrival["action"]["label"], arrival["action"]["op"], arrival["action"]["data"]) == (
        "Talk",
        "self_mute",
        {"muted": False},
    )
    assert got["listener"] == got["resync"] == []
    assert [(x["id"], x["important"]) for x in got["locked"]] == [("mute", True)], "a locked mute offers no Talk"
    assert "action" not in got["locked"][0]


def test_a_moderators_mute_names_them_and_unmuting_makes_the_prompt_stale(page: Page) -> None:
    got = run(
        page,
        """const mona = person("m", "Mona Hart", "moderator");
        const sam = person("s", "Sam Reed", "speaker");
        const muted = { ...sam, muted: true };
        const view = viewOf(mona, muted);
        const mine = n.noticesFor(sam, muted, event("mute_changed", { participant: muted, by: "m" }), [view, view]);
        const stranger = n.noticesFor(sam, muted, event("mute_changed", { participant: muted, by: "x" }), [view, view]);
        const self = n.noticesFor(sam, muted, event("mute_changed", { participant: muted }), [view, view]);
        const unmuted = n.noticesFor(muted, sam, event("mute_changed", { participant: sam }), [view, view]);
        return { mine: mine.show, stranger: stranger.show, self: self.show, hide: unmuted.hide };""",
    )
    assert [x["text"] for x in got["mine"]] == ["Mona Hart muted you."]
    assert [x["text"] for x in got["stranger"]] == ["A moderator muted you."], "an actor not in the view"
    assert got["self"] == [], "muting oneself needs no notice"
    assert "muted" in got["hide"]


def test_a_lapsed_invitation_stays_said_until_a_new_one_and_moderators_hear_of_it(page: Page) -> None:
    got = run(
        page,
        """const mona = person("m", "Mona Hart", "moderator");
        const invited = person("s", "Sam Reed", "listener", { invited_up: true, hand_raised_at: "t1" });
        const lapsed = person("s", "Sam Reed", "listener");
        const view = viewOf(mona, lapsed);
        const zoe = person("z", "Zoe", "listener");
        const expired = event("stage_invite_expired", { participant: lapsed });
        const declined = event("stage_invite_declined", { participant: lapsed });
        const joined = event("participant_joined", { participant: zoe });
        const invitedAgain = event("stage_invited", { participant: invited, by: "m" });
        const both = [view, view];
        return {
          sam: n.noticesFor(invited, lapsed, expired, both),
          later: n.noticesFor(lapsed, lapsed, joined, both).hide,
          again: n.noticesFor(lapsed, invited, invitedAgain, both).hide,
          mona: n.noticesFor(mona, mona, expired, both).show,
          declinedMona: n.noticesFor(mona, mona, declined, both).show,
          declinedOther: n.noticesFor(zoe, zoe, declined, both).show,
        };""",
    )
    assert [x["text"] for x in got["sam"]["show"]] == ["The invitation to speak expired. Raise your hand to ask again."]
    assert "hand" in got["sam"]["hide"]
    assert "invite" not in got["later"], "an unrelated event leaves the notice alone"
    assert "invite" in got["again"], "a new invitation makes it stale"
    assert [x["text"] for x in got["mona"]] == ["Sam Reed did not answer the invitation to speak; it expired."]
    assert [x["text"] for x in got["declinedMona"]] == ["Sam Reed declined the invitation to speak."]
    assert got["declinedOther"] == [], "only moderators are told"


def test_a_room_over_says_who_ended_it_or_removed_you(page: Page) -> None:
    got = run(
        page,
        """const view = viewOf(person("m", "Mona Hart", "moderator"));
        return [
          n.endedMessage(event("room_ended", { by: "m" }), [null, view], false),
          n.endedMessage(event("room_ended", {}), [null, view], false),
          n.endedMessage(event("participant_left", { by: "m" }), [view, view], true),
          n.endedMessage(null, [view, view], true),
        ];""",
    )
    assert got == [
        "Mona Hart ended this room.",
        "This room has ended.",
        "Mona Hart removed you from this room.",
        "A moderator removed you from this room.",
    ]


def test_the_stack_replaces_the_same_kind_keeps_three_and_lets_important_ones_stay(page: Page) -> None:
    got = run(
        page,
        """const ran = [];
        const stack = new n.NoticeStack((action) => ran.push(action.op));
        document.body.append(stack.el);
        stack.show({ id: "muted", text: "You’re muted", important: true, action: { label: "Talk", op: "self_mute" } });
        stack.show({ id: "a", text: "first" });
        stack.show({ id: "a", text: "first, again" });
        const replaced = [...stack.el.children].map((el) => el.textContent);
        stack.show({ id: "b", text: "second" });
        stack.show({ id: "c", text: "third" });
        const kept = [...stack.el.children].map((el) => el.dataset.notice);
        const roles = [...stack.el.children].map((el) => el.getAttribute("role"));
        stack.el.querySelector('[data-notice="b"] button[aria-label="Dismiss"]').click();
        const afterDismiss = [...stack.el.children].map((el) => el.dataset.notice);
        stack.el.querySelector('[data-notice="muted"] .notice-action').click();
        const left = [...stack.el.children].map((el) => el.dataset.notice);
        return { replaced, kept, roles, afterDismiss, left, ran };""",
    )
    assert got["replaced"] == ["You’re muted" + "Talk", "first, again"], "the same kind is replaced in place"
    assert got["kept"] == ["muted", "b", "c"], "three at most: the oldest passing one gave way"
    assert got["roles"] == ["status"] * 3
    assert got["afterDismiss"] == ["muted", "c"]
    assert got["ran"] == ["self_mute"], "the action runs"
    assert got["left"] == ["c"], "and its notice goes"
