"""Avatar use cases: validation, re-encoding to a clean 256x256 PNG, replacing and removing the file."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from salon.app import accounts, avatars
from salon.app.services import Services
from salon.app.sessions import Actor
from salon.domain.errors import DomainError, ErrorCode
from tests.support.accounts import member

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


def image_bytes(fmt: str, size: tuple[int, int] = (300, 200), mode: str = "RGB", **save: object) -> bytes:
    out = BytesIO()
    Image.new(mode, size, (200, 30, 90) if mode == "RGB" else 0).save(out, format=fmt, **save)
    return out.getvalue()


def stored_files(services: Services) -> list[Path]:
    folder = avatars.avatar_dir(services.settings)
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
async def test_upload_is_reencoded_as_a_clean_square_png(services: Services, fmt: str) -> None:
    ada = await member(services, "ada")
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (1.0, 2.0, 3.0)}  # GPS info
    data = image_bytes(fmt, exif=exif.tobytes()) if fmt != "PNG" else image_bytes(fmt)
    name = await avatars.set_avatar(services, ada, data)
    path = avatars.avatar_path(services.settings, name)
    assert path is not None
    assert path.parent == avatars.avatar_dir(services.settings)
    content = path.read_bytes()
    assert b"SecretCam" not in content
    with Image.open(path) as stored:
        assert stored.format == "PNG"
        assert stored.size == (256, 256)
        assert not stored.getexif()
        assert set(stored.info) <= {"dpi", "gamma"}
    assert (await accounts.get_me(services, ada)).avatar == name


async def test_replacing_removes_the_old_file(services: Services) -> None:
    ada = await member(services, "ada")
    first = await avatars.set_avatar(services, ada, image_bytes("PNG"))
    second = await avatars.set_avatar(services, ada, image_bytes("JPEG"))
    assert first != second
    assert [p.name for p in stored_files(services)] == [second]
    await avatars.remove_avatar(services, ada)
    assert stored_files(services) == []
    assert (await accounts.get_me(services, ada)).avatar is None
    await avatars.remove_avatar(services, ada)  # nothing to remove: fine


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        b"GIF89a" + b"\0" * 100,
        image_bytes("GIF"),
        image_bytes("BMP"),
        image_bytes("PNG")[:60],
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    ],
    ids=["empty", "text", "fake-gif", "gif", "bmp", "truncated-png", "svg"],
)
async def test_only_png_jpeg_webp(services: Services, data: bytes) -> None:
    ada = await member(services, "ada")
    with pytest.raises(DomainError) as exc:
        await avatars.set_avatar(services, ada, data)
    assert exc.value.code is ErrorCode.UNSUPPORTED_MEDIA
    assert stored_files(services) == []


async def test_too_many_bytes(services: Services) -> None:
    ada = await member(services, "ada")
    data = image_bytes("PNG") + b"\0" * services.settings.avatar_max_bytes
    with pytest.raises(DomainError) as exc:
        await avatars.set_avatar(services, ada, data)
    assert exc.value.code is ErrorCode.PAYLOAD_TOO_LARGE


@pytest.mark.parametrize("size", [(6000, 6000), (12_000, 12_000)], ids=["over-our-limit", "pillow-bomb"])
async def test_decompression_bombs_are_refused(services: Services, size: tuple[int, int]) -> None:
    ada = await member(services, "ada")
    data = image_bytes("PNG", size=size, mode="1")
    assert len(data) < services.settings.avatar_max_bytes
    with pytest.raises(DomainError) as exc:
        await avatars.set_avatar(services, ada, data)
    assert exc.value.code is ErrorCode.PAYLOAD_TOO_LARGE


@pytest.mark.parametrize(
    "name", ["", "x.png", "../secret_key", "a" * 20 + ".PNG", "a" * 20 + ".png/..", "." + "a" * 20]
)
def test_avatar_path_validates_names(services: Services, name: str) -> None:
    assert avatars.avatar_path(services.settings, name) is None


def test_avatar_path_of_a_missing_file(services: Services) -> None:
    assert avatars.avatar_path(services.settings, "a" * 43 + ".png") is None


async def test_the_new_file_is_removed_when_the_change_fails(services: Services) -> None:
    ghost = Actor(user_id="ghost", username="ghost", is_admin=False, session_hash="h")
    with pytest.raises(DomainError) as exc:
        await avatars.set_avatar(services, ghost, image_bytes("PNG"))
    assert exc.value.code is ErrorCode.NOT_AUTHENTICATED
    assert stored_files(services) == []
