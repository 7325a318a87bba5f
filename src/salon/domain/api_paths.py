"""Domain layer: the public API's paths that appear inside data — a member's avatar URL travels in room events,
notifications and profiles, which the domain shapes and the store keeps. Defined here, at the bottom, once: the web
layer mounts its routers under :data:`API_PREFIX`."""

from __future__ import annotations

API_PREFIX = "/api/v1"


def avatar_url(name: str | None) -> str | None:
    """Where a stored avatar file is served, or None for a member without one."""
    return f"{API_PREFIX}/avatars/{name}" if name else None
