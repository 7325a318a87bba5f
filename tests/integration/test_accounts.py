"""Accounts use cases against the real database (SQLite and PostgreSQL): sign-up, log-in/out, profiles, disabling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from salon.app import accounts
from salon.app.devices import DEVICE_DAYS, read_device_token
from salon.app.fakes import FakeClock, RecordingBus
from salon.app.invites import create_operator_invite
from salon.app.ratelimit import (
    LOGIN_ACCOUNT_FAILURES_PER_HOUR,
    LOGIN_PAIR_FAILURES,
    LOGIN_PAIR_LOCK_S,
)
from salon.app.services import Services
from salon.app.sessions import authenticate, authenticate_session, hash_token, purge_expired
from salon.domain.errors import DomainError, ErrorCode
from salon.store import repo_accounts as repo
from salon.store.tables import sessions, users
from tests.support.accounts import PASSWORD, actor_of, member, sign_up, sign_up_code

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


def bus(services: Services) -> RecordingBus:
    assert isinstance(services.bus, RecordingBus)
    return services.bus


async def test_sign_up_creates_a_member_and_a_session(services: Services) -> None:
    admin = await member(services, "root", admin=True)
    signed = await sign_up(services, "Ada_L", invited_by=admin, kind="cookie")
    user = signed.user
    assert (user.username, user.display_name, user.bio, user.avatar) == ("Ada_L", "Ada_L", "", None)
    assert not user.is_admin
    assert user.invites_left == services.settings.invites_per_member
    assert user.invited_by is not None
    assert user.invited_by.id == admin.user_id
    assert signed.session.kind == "cookie"
    assert len(signed.session.token) >= 43
    assert len(signed.session.csrf_token) >= 43
    assert signed.session.expires_at == services.clock.now() + timedelta(days=services.settings.session_days)
    actor = await authenticate(services, signed.session.token)
    assert actor == actor_of(signed)


async def test_only_hashes_are_stored(services: Services) -> None:
    signed = await sign_up(services, "ada")
    async with services.db.read() as conn:
        stored = (await conn.execute(select(sessions.c.token_hash, sessions.c.csrf_token))).one()
        pw_hash = (await conn.execute(select(users.c.password_hash))).scalar_one()
    assert stored.token_hash == hash_token(services.secret, signed.session.token) != signed.session.token
    assert pw_hash.startswith("$argon2id$")
    assert PASSWORD not in pw_hash


async def test_operator_admin_invite_makes_an_admin_invited_by_nobody(services: Services) -> None:
    signed = await sign_up(services, "root", admin=True)
    assert signed.user.is_admin
    assert signed.user.invited_by is None


@pytest.mark.parametrize(
    ("username", "display_name", "password", "code"),
    [
        ("a", "A", PASSWORD, ErrorCode.INVALID_INPUT),
        ("ada", "   ", PASSWORD, ErrorCode.INVALID_INPUT),
        ("ada", "Ada", "short", ErrorCode.WEAK_PASSWORD),
        ("ada", "Ada", "password123", ErrorCode.WEAK_PASSWORD),
        ("ada_lovelace", "Ada", "ADA_LOVELACE", ErrorCode.WEAK_PASSWORD),
    ],
)
async def test_sign_up_validates_before_spending_the_invite(
    services: Services, username: str, display_name: str, password: str, code: ErrorCode
) -> None:
    invite = await create_operator_invite(services)
    with pytest.raises(DomainError) as exc:
        await accounts.sign_up_with_invite(
            services, code=invite.code, username=username, display_name=display_name, password=password, kind="bearer"
        )
    assert exc.value.code is code
    signed = await accounts.sign_up_with_invite(
        services, code=invite.code, username="ada", display_name="Ada", password=PASSWORD, kind="bearer"
    )
    assert signed.user.username == "ada"


async def test_an_invite_works_once(services: Services) -> None:
    invite = await create_operator_invite(services)
    await accounts.sign_up_with_invite(
        services, code=invite.code, username="ada", display_name="Ada", password=PASSWORD, kind="bearer"
    )
    with pytest.raises(DomainError) as exc:
        await accounts.sign_up_with_invite(
            services, code=invite.code, username="bob", display_name="Bob", password=PASSWORD, kind="bearer"
        )
    assert exc.value.code is ErrorCode.INVITE_INVALID


@pytest.mark.parametrize("code", ["", "nope", "x" * 43, "y" * 500])
async def test_unknown_codes_are_invalid(services: Services, code: str) -> None:
    with pytest.raises(DomainError) as exc:
        await accounts.sign_up_with_invite(
            services, code=code, username="ada", display_name="Ada", password=PASSWORD, kind="bearer"
        )
    assert exc.value.code is ErrorCode.INVITE_INVALID


async def test_username_is_unique_case_insensitively_and_keeps_the_invite(services: Services) -> None:
    await sign_up(services, "Ada")
    invite = await create_operator_invite(services)
    with pytest.raises(DomainError) as exc:
        await accounts.sign_up_with_invite(
            services, code=invite.code, username="aDA", display_name="Ada", password=PASSWORD, kind="bearer"
        )
    assert exc.value.code is ErrorCode.USERNAME_TAKEN
    assert (await sign_up_code(services, invite.code, "bob")).user.username == "bob"


async def test_username_race_lost_at_insert_is_username_taken(services: Services) -> None:
    # The unique username_key decides when two sign-ups pass the early check together.
    await sign_up(services, "ada")
    async with services.db.transaction() as conn:
        with pytest.raises(DomainError) as exc:
            await repo.insert_user(
                conn,
                user_id="other",
                username="ADA",
                display_name="Ada",
                password_hash="x",
                is_admin=False,
                invites_left=0,
                invited_by=None,
                now=services.clock.now(),
            )
    assert exc.value.code is ErrorCode.USERNAME_TAKEN


async def test_log_in_with_either_case(services: Services) -> None:
    await sign_up(services, "Ada")
    signed = await accounts.log_in(services, username="ADA", password=PASSWORD, kind="cookie", client_ip="1.2.3.4")
    assert signed.user.username == "Ada"
    assert signed.user.invites_left == services.settings.invites_per_member
    assert signed.session.kind == "cookie"
    assert await authenticate(services, signed.session.token) is not None


async def test_failed_log_ins_look_the_same(services: Services) -> None:
    await sign_up(services, "ada")
    errors = []
    for username, password in [("ada", "wrong password"), ("nobody", PASSWORD), ("no such name!", PASSWORD)]:
        with pytest.raises(DomainError) as exc:
            await accounts.log_in(services, username=username, password=password, kind="bearer", client_ip="1.1.1.1")
        errors.append(exc.value.to_dict())
    assert errors[0] == errors[1] == errors[2]
    assert errors[0]["code"] == "bad_credentials"


async def log_in(services: Services, password: str, address: str, device: str | None = None) -> accounts.SignedIn:
    return await accounts.log_in(
        services, username="ada", password=password, kind="bearer", client_ip=address, device_token=device
    )


async def refused(services: Services, password: str, address: str, device: str | None = None) -> DomainError:
    with pytest.raises(DomainError) as exc:
        await log_in(services, password, address, device)
    return exc.value


async def test_wrong_passwords_from_one_address_never_lock_the_owner_out(services: Services) -> None:
    known = (await sign_up(services, "ada")).device_token
    for _ in range(LOGIN_PAIR_FAILURES + 7):  # past the old per-username limit of 10
        await refused(services, "wrong!!!", "6.6.6.6")
    assert (await log_in(services, PASSWORD, "7.7.7.7")).user.username == "ada"  # another address
    assert (await log_in(services, PASSWORD, "6.6.6.6", known)).user.username == "ada"  # the same, a known device


async def test_guessing_from_one_address_is_bounded(services: Services, clock: FakeClock) -> None:
    await sign_up(services, "ada")
    for _ in range(LOGIN_PAIR_FAILURES):
        assert (await refused(services, "wrong!!!", "6.6.6.6")).code is ErrorCode.BAD_CREDENTIALS
    for lock in (LOGIN_PAIR_LOCK_S, 2 * LOGIN_PAIR_LOCK_S, 4 * LOGIN_PAIR_LOCK_S):
        error = await refused(services, PASSWORD, "6.6.6.6")  # locked: not even the right password is tried
        assert (error.code, error.data["limit"], error.data["retry_after"]) == (
            ErrorCode.RATE_LIMITED,
            "login_pair",
            lock,
        )
        clock.advance(lock - 1)
        assert (await refused(services, PASSWORD, "6.6.6.6")).data["retry_after"] == 1
        clock.advance(1)
        assert (await refused(services, "wrong!!!", "6.6.6.6")).code is ErrorCode.BAD_CREDENTIALS  # one guess, then


async def test_a_success_forgets_the_failures_of_its_pair(services: Services) -> None:
    await sign_up(services, "ada")
    for _ in range(2):
        for _ in range(LOGIN_PAIR_FAILURES - 1):
            assert (await refused(services, "wrong!!!", "6.6.6.6")).code is ErrorCode.BAD_CREDENTIALS
        assert (await log_in(services, PASSWORD, "6.6.6.6")).user.username == "ada"


async def test_the_account_ceiling_slows_guessing_from_many_addresses_but_not_a_known_device(
    services: Services,
) -> None:
    known = (await sign_up(services, "ada")).device_token
    strangers = (await sign_up(services, "bob")).device_token  # a device, but another account's
    for i in range(LOGIN_ACCOUNT_FAILURES_PER_HOUR - 1):
        await refused(services, "wrong!!!", f"10.0.{i // 250}.{i % 250}")
    assert (await log_in(services, PASSWORD, "7.7.7.7")).user.username == "ada"  # successes do not count
    await refused(services, "wrong!!!", "10.1.0.1")
    error = await refused(services, PASSWORD, "7.7.7.8")  # the ceiling: a new address is refused
    assert (error.code, error.data["limit"]) == (ErrorCode.RATE_LIMITED, "login_account")
    assert (await refused(services, PASSWORD, "7.7.7.8", strangers)).code is ErrorCode.RATE_LIMITED
    assert (await refused(services, PASSWORD, "7.7.7.8", known + "0")).code is ErrorCode.RATE_LIMITED  # forged
    assert (await log_in(services, PASSWORD, "7.7.7.8", known)).user.username == "ada"
    # The known device meets only its own lock.
    for _ in range(LOGIN_PAIR_FAILURES):
        assert (await refused(services, "wrong!!!", "7.7.7.8", known)).code is ErrorCode.BAD_CREDENTIALS
    assert (await refused(services, PASSWORD, "7.7.7.8", known)).data["limit"] == "login_pair"


async def test_a_device_token_names_its_account_and_device_and_lasts_a_year(services: Services) -> None:
    signed = await sign_up(services, "ada")
    first = read_device_token(services.secret, signed.device_token, services.clock.now())
    assert first is not None
    assert first.user_id == signed.user.id
    again = await log_in(services, PASSWORD, "1.1.1.1", signed.device_token)
    assert read_device_token(services.secret, again.device_token, services.clock.now()) == first  # the same device
    fresh = await log_in(services, PASSWORD, "1.1.1.1")
    other = read_device_token(services.secret, fresh.device_token, services.clock.now())
    assert other is not None
    assert other.device_id != first.device_id
    later = services.clock.now() + timedelta(days=DEVICE_DAYS)
    assert read_device_token(services.secret, signed.device_token, later) is None
    assert read_device_token("another secret", signed.device_token, services.clock.now()) is None


async def test_failed_log_ins_are_rate_limited_per_address(services: Services) -> None:
    await sign_up(services, "ada")
    for i in range(services.settings.login_failures_per_minute):
        with pytest.raises(DomainError):
            await accounts.log_in(
                services, username=f"user{i}", password="wrong!!!", kind="bearer", client_ip="6.6.6.6"
            )
    with pytest.raises(DomainError) as exc:
        await accounts.log_in(services, username="ada", password=PASSWORD, kind="bearer", client_ip="6.6.6.6")
    assert exc.value.code is ErrorCode.RATE_LIMITED
    ok = await accounts.log_in(services, username="ada", password=PASSWORD, kind="bearer", client_ip="7.7.7.7")
    assert ok.user.username == "ada"


@pytest.mark.real_password_hashing  # upgraded to the production parameters
async def test_an_old_hash_is_upgraded_at_log_in(services: Services) -> None:
    signed = await sign_up(services, "ada")
    old = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    async with services.db.transaction() as conn:
        await repo.update_user(conn, signed.user.id, password_hash=old)
    await accounts.log_in(services, username="ada", password=PASSWORD, kind="bearer", client_ip="1.1.1.1")
    async with services.db.read() as conn:
        user = await repo.get_user(conn, signed.user.id)
    assert user is not None
    assert user.password_hash != old
    assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


async def test_sessions_expire(services: Services, clock: FakeClock) -> None:
    signed = await sign_up(services, "ada")
    clock.advance(timedelta(days=services.settings.session_days).total_seconds() - 1)
    assert await authenticate(services, signed.session.token) is not None
    clock.advance(1)
    assert await authenticate(services, signed.session.token) is None
    assert await purge_expired(services) == 1


async def test_session_kind_is_checked_when_asked(services: Services) -> None:
    signed = await sign_up(services, "ada", kind="cookie")
    assert await authenticate_session(services, signed.session.token, "cookie") is not None
    assert await authenticate_session(services, signed.session.token, "bearer") is None
    assert await authenticate_session(services, "") is None
    assert await authenticate_session(services, "t" * 1000) is None


async def test_log_out_ends_this_session_only(services: Services) -> None:
    first = await sign_up(services, "ada")
    second = await accounts.log_in(services, username="ada", password=PASSWORD, kind="cookie", client_ip="1.1.1.1")
    await accounts.log_out(services, actor_of(first))
    assert await authenticate(services, first.session.token) is None
    assert await authenticate(services, second.session.token) is not None
    assert bus(services).closed_sessions == [first.session.token_hash]


async def test_log_out_everywhere(services: Services) -> None:
    first = await sign_up(services, "ada")
    second = await accounts.log_in(services, username="ada", password=PASSWORD, kind="cookie", client_ip="1.1.1.1")
    other = await sign_up(services, "bob")
    assert await accounts.log_out_everywhere(services, actor_of(first)) == 2
    assert await authenticate(services, first.session.token) is None
    assert await authenticate(services, second.session.token) is None
    assert await authenticate(services, other.session.token) is not None
    assert sorted(bus(services).closed_sessions) == sorted([first.session.token_hash, second.session.token_hash])


async def test_profiles_show_private_fields_only_to_the_right_people(services: Services) -> None:
    root = await member(services, "root", admin=True)
    ada = await member(services, "ada", invited_by=root)
    bob = await member(services, "bob", invited_by=ada)

    own = await accounts.get_me(services, bob)
    assert own.invited_by is not None
    assert own.invited_by.username == "ada"
    assert own.invites_left == services.settings.invites_per_member
    assert own.disabled is None

    seen_by_admin = await accounts.get_profile(services, root, bob.user_id)
    assert seen_by_admin.invited_by is not None
    assert seen_by_admin.invited_by.id == ada.user_id
    assert seen_by_admin.invites_left is None
    assert seen_by_admin.disabled is False

    seen_by_member = await accounts.get_profile_by_username(services, ada, "BOB")
    assert seen_by_member.id == bob.user_id
    assert seen_by_member.invited_by is not None  # public, as Clubhouse's "nominated by"
    assert seen_by_member.invited_by.id == ada.user_id
    assert seen_by_member.invites_left is None
    assert seen_by_member.disabled is None


@pytest.mark.parametrize("username", ["nobody", "not valid!", ""])
async def test_unknown_profiles_are_not_found(services: Services, username: str) -> None:
    ada = await member(services, "ada")
    with pytest.raises(DomainError) as exc:
        await accounts.get_profile_by_username(services, ada, username)
    assert exc.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(DomainError) as exc:
        await accounts.get_profile(services, ada, username or "x")
    assert exc.value.code is ErrorCode.NOT_FOUND


async def test_update_profile(services: Services) -> None:
    ada = await member(services, "ada")
    profile = await accounts.update_profile(services, ada, display_name="  Ada   Lovelace ", bio=" Countess. ")
    assert (profile.display_name, profile.bio) == ("Ada Lovelace", "Countess.")
    profile = await accounts.update_profile(services, ada, bio="")
    assert (profile.display_name, profile.bio) == ("Ada Lovelace", "")
    assert (await accounts.update_profile(services, ada)).display_name == "Ada Lovelace"
    with pytest.raises(DomainError) as exc:
        await accounts.update_profile(services, ada, bio="b" * 301)
    assert exc.value.code is ErrorCode.INVALID_INPUT


async def test_disabling_ends_sessions_and_log_ins(services: Services) -> None:
    root = await member(services, "root", admin=True)
    signed = await sign_up(services, "ada")
    other = await accounts.log_in(services, username="ada", password=PASSWORD, kind="cookie", client_ip="1.1.1.1")

    await accounts.disable_user(services, root, signed.user.id)

    assert await authenticate(services, signed.session.token) is None
    assert await authenticate(services, other.session.token) is None
    assert bus(services).closed_users == [signed.user.id]
    async with services.db.read() as conn:
        left = (await conn.execute(select(sessions).where(sessions.c.user_id == signed.user.id))).all()
    assert left == []
    with pytest.raises(DomainError) as exc:
        await accounts.log_in(services, username="ada", password=PASSWORD, kind="bearer", client_ip="1.1.1.1")
    assert exc.value.code is ErrorCode.BAD_CREDENTIALS
    assert exc.value.message == accounts.BAD_CREDENTIALS_MESSAGE
    assert (await accounts.get_profile(services, root, signed.user.id)).disabled is True

    await accounts.disable_user(services, root, signed.user.id)  # idempotent
    await accounts.enable_user(services, root, signed.user.id)
    again = await accounts.log_in(services, username="ada", password=PASSWORD, kind="bearer", client_ip="1.1.1.1")
    assert await authenticate(services, again.session.token) is not None


async def test_a_disabled_token_stops_working_even_before_sessions_are_deleted(services: Services) -> None:
    signed = await sign_up(services, "ada")
    async with services.db.transaction() as conn:
        await repo.set_disabled(conn, signed.user.id, services.clock.now())
    assert await authenticate(services, signed.session.token) is None


async def test_only_admins_disable_and_not_themselves(services: Services) -> None:
    root = await member(services, "root", admin=True)
    ada = await member(services, "ada")
    for actor, target, code in [
        (ada, root.user_id, ErrorCode.NOT_ALLOWED),
        (root, root.user_id, ErrorCode.NOT_ALLOWED),
        (root, "nobody", ErrorCode.NOT_FOUND),
    ]:
        with pytest.raises(DomainError) as exc:
            await accounts.disable_user(services, actor, target)
        assert exc.value.code is code
    for actor, target, code in [(ada, ada.user_id, ErrorCode.NOT_ALLOWED), (root, "nobody", ErrorCode.NOT_FOUND)]:
        with pytest.raises(DomainError) as exc:
            await accounts.enable_user(services, actor, target)
        assert exc.value.code is code


async def test_list_users(services: Services, clock: FakeClock) -> None:
    await member(services, "root", admin=True)
    clock.advance(1)
    await member(services, "ada")
    assert [u.username for u in await accounts.list_users(services)] == ["root", "ada"]
