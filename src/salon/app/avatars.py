"""App layer: avatars — validate an uploaded image, re-encode it, store it, serve it by name.

An upload must be a PNG, JPEG or WebP of at most ``settings.avatar_max_bytes`` and ``MAX_PIXELS`` pixels (no
decompression bombs). It is decoded by Pillow and re-encoded as a fresh 256x256 PNG: nothing of the original file
(metadata, trailing bytes, other frames) survives. Files get random names in ``{data_dir}/avatars``; the old file is
removed after the change commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from salon.app.services import Services
from salon.app.sessions import Actor
from salon.app.settings import Settings
from salon.domain.errors import ErrorCode, refuse
from salon.store import repo_accounts as repo

log = logging.getLogger(__name__)

AVATAR_SIZE = 256
MAX_PIXELS = 25_000_000
FORMATS = frozenset({"PNG", "JPEG", "WEBP"})
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{16,59}\.png$")
_UNSUPPORTED = "Upload a PNG, JPEG or WebP image."


def avatar_dir(settings: Settings) -> Path:
    return settings.data_dir / "avatars"


def avatar_path(settings: Settings, name: str) -> Path | None:
    """The file of a stored avatar, or None when ``name`` is not one of ours (validated before touching disk)."""
    if not NAME_RE.fullmatch(name):
        return None
    path = avatar_dir(settings) / name
    return path if path.is_file() else None


def render_avatar(data: bytes) -> bytes:
    """Check an uploaded image and re-encode it as a 256x256 PNG without metadata (CPU-bound: run it in a thread)."""
    try:
        with Image.open(BytesIO(data), formats=sorted(FORMATS)) as probe:
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise refuse(ErrorCode.PAYLOAD_TOO_LARGE, "That image has too many pixels.", max_pixels=MAX_PIXELS)
            probe.verify()
        with Image.open(BytesIO(data), formats=sorted(FORMATS)) as image:
            image.draft("RGB", (AVATAR_SIZE * 2, AVATAR_SIZE * 2))  # JPEG: decode at a reduced scale
            image.load()
            upright = ImageOps.exif_transpose(image)
            square = ImageOps.fit(upright.convert("RGBA"), (AVATAR_SIZE, AVATAR_SIZE), Image.Resampling.LANCZOS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise refuse(ErrorCode.PAYLOAD_TOO_LARGE, "That image has too many pixels.", max_pixels=MAX_PIXELS) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise refuse(ErrorCode.UNSUPPORTED_MEDIA, _UNSUPPORTED) from exc
    out = BytesIO()
    square.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _write(directory: Path, name: str, content: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{name}.tmp"
    tmp.write_bytes(content)
    os.replace(tmp, directory / name)


def _remove(settings: Settings, name: str | None) -> None:
    if name is None or not NAME_RE.fullmatch(name):
        return
    with contextlib.suppress(FileNotFoundError):
        (avatar_dir(settings) / name).unlink()


async def set_avatar(services: Services, actor: Actor, data: bytes) -> str:
    """Replace the actor's avatar with this image; the new file's name."""
    limit = services.settings.avatar_max_bytes
    if len(data) > limit:
        raise refuse(ErrorCode.PAYLOAD_TOO_LARGE, f"An avatar is at most {limit} bytes.", max_bytes=limit)
    if not data:
        raise refuse(ErrorCode.UNSUPPORTED_MEDIA, _UNSUPPORTED)
    png = await asyncio.to_thread(render_avatar, data)
    name = f"{services.ids.new_secret()}.png"
    await asyncio.to_thread(_write, avatar_dir(services.settings), name, png)
    try:
        async with services.db.transaction() as conn:
            user = await repo.get_user(conn, actor.user_id)
            if user is None:
                raise refuse(ErrorCode.NOT_AUTHENTICATED, "Log in first.")
            await repo.update_user(conn, actor.user_id, avatar=name)
    except BaseException:
        await asyncio.to_thread(_remove, services.settings, name)
        raise
    await asyncio.to_thread(_remove, services.settings, user.avatar)
    return name


async def remove_avatar(services: Services, actor: Actor) -> None:
    async with services.db.transaction() as conn:
        user = await repo.get_user(conn, actor.user_id)
        if user is None:
            raise refuse(ErrorCode.NOT_AUTHENTICATED, "Log in first.")
        await repo.update_user(conn, actor.user_id, avatar=None)
    await asyncio.to_thread(_remove, services.settings, user.avatar)
