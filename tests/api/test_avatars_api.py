"""The avatar API over in-process HTTP: upload (multipart, CSRF), serving with nosniff, removal, and every way an
upload can be wrong (not an image, too big, broken multipart) giving a clear 4xx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from io import BytesIO

import httpx
import pytest
from PIL import Image

from salon.app.services import Services
from tests.support.api import API, assert_error, bearer, png_bytes, signup

Client = httpx.AsyncClient


# --- avatars ----------------------------------------------------------------------------------------------------------


async def test_avatar_upload_serve_remove(client: Client, services: Services) -> None:
    csrf = (await signup(client, services, "ada"))["csrf_token"]
    headers = {"X-CSRF-Token": csrf}
    files = {"file": ("me.png", png_bytes(), "image/png")}
    assert_error(await client.put("/me/avatar", files=files), 403, "csrf_failed")
    response = await client.put("/me/avatar", files=files, headers=headers)
    assert response.status_code == 200, response.text
    url = response.json()["avatar_url"]
    assert url.startswith(f"{API}/avatars/")
    assert url.endswith(".png")
    assert (await client.get("/me")).json()["avatar_url"] == url

    served = await client.get(url.removeprefix(API))
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    with Image.open(BytesIO(served.content)) as image:
        assert image.size == (256, 256)

    removed = await client.delete("/me/avatar", headers=headers)
    assert removed.json() == {"avatar_url": None}
    assert_error(await client.get(url.removeprefix(API)), 404, "not_found")


@pytest.mark.parametrize("name", ["nope.png", "..%2Fsecret_key", "a" * 43 + ".svg", "%2e%2e"])
async def test_avatar_names_are_validated(client: Client, name: str) -> None:
    response = await client.get(f"/avatars/{name}")
    assert response.status_code == 404


async def test_avatar_refusals(client: Client, services: Services) -> None:
    token = (await signup(client, services, "ada", mode="bearer"))["token"]
    auth = bearer(token)
    not_image = {"file": ("me.png", b"hello, not an image", "image/png")}
    assert_error(await client.put("/me/avatar", files=not_image, headers=auth), 415, "unsupported_media")
    limit = services.settings.avatar_max_bytes
    # Declared far over the limit: refused from the Content-Length, before the body is read.
    huge = {"file": ("me.png", b"\0" * (limit + 100_000), "image/png")}
    assert_error(await client.put("/me/avatar", files=huge, headers=auth), 413, "payload_too_large")
    # Just over the limit (within the multipart allowance): refused after reading at most limit + 1 bytes.
    just_over = {"file": ("me.png", b"\0" * (limit + 1), "image/png")}
    assert_error(await client.put("/me/avatar", files=just_over, headers=auth), 413, "payload_too_large")
    assert_error(
        await client.put("/me/avatar", content=png_bytes(), headers={**auth, "content-type": "image/png"}),
        415,
        "unsupported_media",
    )
    assert_error(
        await client.put("/me/avatar", files={"other": ("x.png", png_bytes(), "image/png")}, headers=auth),
        422,
        "invalid_input",
    )
    assert_error(
        await client.put("/me/avatar", files={"file": ("me.png", png_bytes(), "image/png")}), 401, "not_authenticated"
    )


async def test_avatar_just_over_the_limit_without_content_length(client: Client, services: Services) -> None:
    token = (await signup(client, services, "ada", mode="bearer"))["token"]
    boundary = "salonboundary"
    data = png_bytes() + b"\0" * services.settings.avatar_max_bytes

    async def chunks() -> AsyncIterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        yield data
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await client.put(
        "/me/avatar",
        content=chunks(),
        headers={**bearer(token), "content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("multipart/form-data", b"garbage"),
        ("multipart/form-data; boundary=xx", b"garbage"),
        (
            "multipart/form-data; boundary=xx",
            b'--xx\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--xx--\r\n',
        ),
    ],
    ids=["no-boundary", "broken", "extra-field"],
)
async def test_broken_multipart_is_a_client_error(
    client: Client, services: Services, content_type: str, content: bytes
) -> None:
    token = (await signup(client, services, "ada", mode="bearer"))["token"]
    response = await client.put("/me/avatar", content=content, headers={**bearer(token), "content-type": content_type})
    assert_error(response, 400, "invalid_input")
