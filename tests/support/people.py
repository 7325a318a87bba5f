"""Test support: members inserted straight into the database (the sign-up flow has its own tests)."""

from __future__ import annotations

from salon.app.services import Services
from salon.store.tables import users


async def add_member(services: Services, username: str, *, admin: bool = False) -> str:
    user_id = services.ids.new_id()
    async with services.db.transaction() as conn:
        await conn.execute(
            users.insert().values(
                id=user_id,
                username=username,
                username_key=username.casefold(),
                display_name=username.title(),
                bio="",
                password_hash="not-a-real-hash",
                is_admin=admin,
                invites_left=2,
                created_at=services.clock.now(),
            )
        )
    return user_id
