"""Domain rules for members and invites: usernames, profiles, password policy, invite status and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from salon.domain.accounts import (
    BIO_MAX,
    DISPLAY_NAME_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    Invite,
    check_bio,
    check_display_name,
    check_password,
    check_redeemable,
    check_revocable,
    check_username,
    username_key,
)
from salon.domain.errors import DomainError, ErrorCode

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def invite(**changes: object) -> Invite:
    fields: dict[str, object] = {
        "id": "inv1",
        "created_by": "ada",
        "grants_admin": False,
        "created_at": NOW - timedelta(days=1),
        "expires_at": NOW + timedelta(days=1),
    }
    fields.update(changes)
    return Invite(**fields)  # type: ignore[arg-type]


def code_of(exc: pytest.ExceptionInfo[DomainError]) -> ErrorCode:
    return exc.value.code


class TestUsername:
    @pytest.mark.parametrize("name", ["ada", "Ada_Lovelace", "a1b", "x" * 20, "___"])
    def test_valid(self, name: str) -> None:
        assert check_username(name) == name

    @pytest.mark.parametrize("name", ["", "ab", "x" * 21, "ada lovelace", "ada-l", "adà", "ada\n", "ada!"])
    def test_invalid(self, name: str) -> None:
        with pytest.raises(DomainError) as exc:
            check_username(name)
        assert code_of(exc) is ErrorCode.INVALID_INPUT
        assert exc.value.data == {"field": "username"}

    def test_key_is_case_insensitive(self) -> None:
        assert username_key("Ada_L") == username_key("ada_l") == "ada_l"


class TestDisplayName:
    def test_collapses_whitespace(self) -> None:
        assert check_display_name("  Ada \u00a0  Lovelace  ") == "Ada Lovelace"

    @pytest.mark.parametrize("name", ["Ada\tLovelace", "Ada\nLovelace", "Ada\x1b[31m", "\u202eAda", "\u200b\u2060"])
    def test_one_line_of_plain_visible_text(self, name: str) -> None:
        with pytest.raises(DomainError) as exc:
            check_display_name(name)
        assert exc.value.data == {"field": "display_name"}

    def test_max_length(self) -> None:
        assert check_display_name("x" * DISPLAY_NAME_MAX) == "x" * DISPLAY_NAME_MAX

    @pytest.mark.parametrize("name", ["", "   ", "x" * (DISPLAY_NAME_MAX + 1)])
    def test_invalid(self, name: str) -> None:
        with pytest.raises(DomainError) as exc:
            check_display_name(name)
        assert code_of(exc) is ErrorCode.INVALID_INPUT
        assert exc.value.data == {"field": "display_name"}


class TestBio:
    def test_strips_and_allows_empty(self) -> None:
        assert check_bio("  hello  ") == "hello"
        assert check_bio("") == ""

    def test_max(self) -> None:
        assert check_bio("b" * BIO_MAX) == "b" * BIO_MAX
        with pytest.raises(DomainError) as exc:
            check_bio("b" * (BIO_MAX + 1))
        assert code_of(exc) is ErrorCode.INVALID_INPUT
        assert exc.value.data == {"field": "bio"}

    def test_several_lines_of_plain_text(self) -> None:
        assert check_bio("Poet.\r\nLikes\tjazz.") == "Poet.\nLikes\tjazz."
        with pytest.raises(DomainError) as exc:
            check_bio("\x1b[2J admin notice")
        assert exc.value.data == {"field": "bio"}


class TestPassword:
    def test_accepts_a_good_one(self) -> None:
        assert check_password("correct horse battery", is_common=False, username="ada") == "correct horse battery"

    def test_accepts_without_username(self) -> None:
        assert check_password("x" * PASSWORD_MIN, is_common=False) == "x" * PASSWORD_MIN

    @pytest.mark.parametrize(
        ("password", "is_common", "username"),
        [
            ("x" * (PASSWORD_MIN - 1), False, ""),
            ("x" * (PASSWORD_MAX + 1), False, ""),
            ("password1", True, ""),
            ("Ada_Lovelace", False, "ada_lovelace"),
        ],
        ids=["short", "long", "common", "same-as-username"],
    )
    def test_refuses(self, password: str, is_common: bool, username: str) -> None:
        with pytest.raises(DomainError) as exc:
            check_password(password, is_common=is_common, username=username)
        assert code_of(exc) is ErrorCode.WEAK_PASSWORD
        assert exc.value.data == {"field": "password"}

    def test_longest_allowed(self) -> None:
        assert check_password("y" * PASSWORD_MAX, is_common=False, username="ada") == "y" * PASSWORD_MAX


class TestInviteStatus:
    def test_open(self) -> None:
        assert invite().status(NOW) == "open"

    def test_used_wins_over_revoked_and_expired(self) -> None:
        inv = invite(used_at=NOW, used_by="bob", revoked_at=NOW, expires_at=NOW - timedelta(days=1))
        assert inv.status(NOW) == "used"

    def test_revoked(self) -> None:
        assert invite(revoked_at=NOW).status(NOW) == "revoked"

    def test_expired_at_the_exact_instant(self) -> None:
        inv = invite(expires_at=NOW)
        assert inv.status(NOW - timedelta(microseconds=1)) == "open"
        assert inv.status(NOW) == "expired"


class TestRedeemable:
    def test_open_invite(self) -> None:
        inv = invite()
        assert check_redeemable(inv, NOW) is inv

    @pytest.mark.parametrize(
        "inv",
        [None, invite(used_at=NOW, used_by="bob"), invite(revoked_at=NOW), invite(expires_at=NOW)],
        ids=["unknown", "used", "revoked", "expired"],
    )
    def test_one_message_for_every_invalid_code(self, inv: Invite | None) -> None:
        with pytest.raises(DomainError) as exc:
            check_redeemable(inv, NOW)
        assert code_of(exc) is ErrorCode.INVITE_INVALID
        assert exc.value.message == "This invite link is not valid any more. Ask for a new one."
        assert exc.value.data == {}


class TestRevocable:
    def test_creator_revokes_open(self) -> None:
        inv = invite()
        assert check_revocable(inv, "ada", False, NOW) is inv

    def test_creator_revokes_expired(self) -> None:
        inv = invite(expires_at=NOW - timedelta(hours=1))
        assert check_revocable(inv, "ada", False, NOW) is inv

    def test_admin_revokes_someone_elses(self) -> None:
        inv = invite()
        assert check_revocable(inv, "root", True, NOW) is inv

    def test_admin_revokes_operator_invite(self) -> None:
        inv = invite(created_by=None)
        assert check_revocable(inv, "root", True, NOW) is inv

    @pytest.mark.parametrize(
        ("inv", "actor"),
        [(None, "ada"), (invite(), "bob"), (invite(created_by=None), "bob")],
        ids=["unknown", "not-creator", "operator-invite"],
    )
    def test_not_found_for_others(self, inv: Invite | None, actor: str) -> None:
        with pytest.raises(DomainError) as exc:
            check_revocable(inv, actor, False, NOW)
        assert code_of(exc) is ErrorCode.NOT_FOUND

    @pytest.mark.parametrize(
        ("inv", "status"),
        [(invite(used_at=NOW, used_by="bob"), "used"), (invite(revoked_at=NOW), "revoked")],
    )
    def test_conflict_when_used_or_revoked(self, inv: Invite, status: str) -> None:
        with pytest.raises(DomainError) as exc:
            check_revocable(inv, "ada", False, NOW)
        assert code_of(exc) is ErrorCode.CONFLICT
        assert status in exc.value.message
