"""Running the instance (``salon.domain.admin``): who may do what in the admin area, the instance's log entry each
change returns (none when nothing changes), and the settings an admin may change live."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from salon.domain import admin
from salon.domain.admin import InstanceSettings, MemberFacts
from salon.domain.errors import DomainError, ErrorCode
from salon.domain.moderation import AdminAction, ModAction, ModerationEntry, parse_action

ADA = MemberFacts("ada", is_admin=False, disabled=False)
ROOT = MemberFacts("root", is_admin=True, disabled=False)
DEFAULTS = InstanceSettings(invites_per_member=2, waitlist_open=True)


def refusal(call: Callable[[], object]) -> DomainError:
    with pytest.raises(DomainError) as exc:
        call()
    return exc.value


def test_only_admins() -> None:
    admin.require_admin(True)
    assert refusal(lambda: admin.require_admin(False)).code is ErrorCode.NOT_ALLOWED


def test_the_operator_is_logged_with_no_actor() -> None:
    assert admin.admin_entry(AdminAction.ENABLE_MEMBER, "", "ada").actor_id is None
    assert admin.admin_entry(AdminAction.ENABLE_MEMBER, "root", "ada") == ModerationEntry(
        AdminAction.ENABLE_MEMBER, "root", "ada", {}
    )


@pytest.mark.parametrize("count", [0, -1, admin.GRANT_MAX + 1])
def test_a_grant_is_one_to_a_hundred(count: int) -> None:
    assert refusal(lambda: admin.check_grant(count)).data == {"field": "count"}


def test_a_grant_in_bounds() -> None:
    assert admin.check_grant(admin.GRANT_MAX) == admin.GRANT_MAX


def test_disabling_and_enabling() -> None:
    entry = admin.disable("root", ADA)
    assert entry == ModerationEntry(AdminAction.DISABLE_MEMBER, "root", "ada", {})
    assert admin.disable("root", ADA, report_id="r1") == ModerationEntry(
        AdminAction.DISABLE_MEMBER, "root", "ada", {"report_id": "r1"}
    )
    off = MemberFacts("ada", is_admin=False, disabled=True)
    assert admin.disable("root", off) is None  # already disabled: nothing to log
    assert admin.enable("root", ADA) is None
    assert admin.enable("root", off) == ModerationEntry(AdminAction.ENABLE_MEMBER, "root", "ada", {})
    assert refusal(lambda: admin.disable("root", ROOT)).code is ErrorCode.NOT_ALLOWED


def test_making_an_admin() -> None:
    assert admin.set_admin("root", ADA, True, 1) == ModerationEntry(AdminAction.MAKE_ADMIN, "root", "ada", {})
    assert admin.set_admin("root", ROOT, True, 1) is None
    off = MemberFacts("ada", is_admin=False, disabled=True)
    assert refusal(lambda: admin.set_admin("root", off, True, 1)).code is ErrorCode.ACCOUNT_DISABLED


def test_the_last_enabled_admin_stays() -> None:
    assert admin.set_admin("root", ADA, False, 1) is None  # not an admin: nothing to take back
    assert refusal(lambda: admin.set_admin("root", ROOT, False, 1)).code is ErrorCode.LAST_ADMIN
    other = MemberFacts("bea", is_admin=True, disabled=False)
    assert admin.set_admin("root", other, False, 2) == ModerationEntry(AdminAction.REMOVE_ADMIN, "root", "bea", {})
    # A disabled admin is not one who can act: taking their flag leaves the enabled count as it was.
    disabled_admin = MemberFacts("bea", is_admin=True, disabled=True)
    assert admin.set_admin("root", disabled_admin, False, 1) is not None


def test_resolving_a_report() -> None:
    entry = admin.resolve_report("root", "r1", False, "  warned \n ")
    assert entry == ModerationEntry(AdminAction.RESOLVE_REPORT, "root", None, {"report_id": "r1", "note": "warned"})
    assert refusal(lambda: admin.resolve_report("root", "r1", True, "")).code is ErrorCode.CONFLICT
    too_long = refusal(lambda: admin.resolve_report("root", "r1", False, "x" * (admin.NOTE_MAX + 1)))
    assert too_long.data == {"field": "note"}
    assert refusal(lambda: admin.check_note("a\x00b")).code is ErrorCode.INVALID_INPUT


def test_dismissing_from_the_waitlist() -> None:
    entry = admin.dismiss("root", "w1", "Lou", nominated=False, dismissed=False)
    assert entry == ModerationEntry(AdminAction.DISMISS_FROM_WAITLIST, "root", None, {"entry_id": "w1", "name": "Lou"})
    assert admin.dismiss("root", "w1", "Lou", nominated=False, dismissed=True) is None
    assert refusal(lambda: admin.dismiss("root", "w1", "Lou", nominated=True, dismissed=False)).code is (
        ErrorCode.CONFLICT
    )


def test_settings_change_only_what_is_given() -> None:
    after, entry = admin.check_settings_change("root", DEFAULTS, {"invites_per_member": 5})
    assert after == InstanceSettings(invites_per_member=5, waitlist_open=True)
    assert entry == ModerationEntry(
        AdminAction.CHANGE_SETTINGS, "root", None, {"changes": {"invites_per_member": [2, 5]}}
    )
    after, entry = admin.check_settings_change("root", DEFAULTS, {"waitlist_open": False, "invites_per_member": 2})
    assert entry is not None
    assert entry.data == {"changes": {"waitlist_open": [True, False]}}
    assert admin.check_settings_change("root", DEFAULTS, {"invites_per_member": 2}) == (DEFAULTS, None)
    assert admin.check_settings_change("root", DEFAULTS, {}) == (DEFAULTS, None)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"invites_per_member": -1}, "invites_per_member"),
        ({"invites_per_member": admin.INVITES_PER_MEMBER_MAX + 1}, "invites_per_member"),
        ({"invites_per_member": True}, "invites_per_member"),
        ({"invites_per_member": "3"}, "invites_per_member"),
        ({"waitlist_open": 1}, "waitlist_open"),
        ({"instance_name": "x"}, "instance_name"),
    ],
)
def test_settings_are_checked(changes: dict[str, Any], field: str) -> None:
    failure = refusal(lambda: admin.check_settings_change("root", DEFAULTS, changes))
    assert (failure.code, failure.data) == (ErrorCode.INVALID_INPUT, {"field": field})


def test_a_closed_waitlist_refuses() -> None:
    admin.check_waitlist_open(DEFAULTS)
    closed = InstanceSettings(invites_per_member=2, waitlist_open=False)
    assert refusal(lambda: admin.check_waitlist_open(closed)).code is ErrorCode.WAITLIST_CLOSED


def test_stored_actions_are_read_back_from_either_vocabulary() -> None:
    assert parse_action("mute") is ModAction.MUTE
    assert parse_action("grant_invites") is AdminAction.GRANT_INVITES
    with pytest.raises(ValueError, match="nonsense"):
        parse_action("nonsense")
