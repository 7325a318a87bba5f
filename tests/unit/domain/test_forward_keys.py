from __future__ import annotations

import base64

import pytest

from salon.domain.forward_keys import DEFAULT_SUITE, KEY_BYTES, SUITES, ForwardKey, parse_forward_key

KEY = bytes(range(KEY_BYTES))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_a_key_round_trips_through_its_json_form() -> None:
    key = ForwardKey(DEFAULT_SUITE, KEY)
    assert key.as_json() == {"suite": "AES_CM_128_HMAC_SHA1_80", "key": b64(KEY)}
    assert parse_forward_key(key.as_json()) == key
    assert key.tag_bits == 80
    assert ForwardKey("AES_CM_128_HMAC_SHA1_32", KEY).tag_bits == 32
    assert set(SUITES) == {"AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"}


def test_the_key_never_shows_in_a_repr() -> None:
    assert b64(KEY) not in repr(ForwardKey(DEFAULT_SUITE, KEY))
    assert repr(KEY) not in repr(ForwardKey(DEFAULT_SUITE, KEY))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "srtp must be a JSON object with exactly: key, suite."),
        ([], "srtp must be a JSON object"),
        ({"suite": DEFAULT_SUITE}, "srtp must be a JSON object"),
        ({"suite": DEFAULT_SUITE, "key": b64(KEY), "mki": 1}, "srtp must be a JSON object"),
        ({"suite": 80, "key": b64(KEY)}, "srtp.suite and srtp.key must be strings."),
        ({"suite": DEFAULT_SUITE, "key": None}, "srtp.suite and srtp.key must be strings."),
        ({"suite": "AES_256_CM_HMAC_SHA1_80", "key": b64(KEY)}, "srtp.suite must be one of"),
        ({"suite": DEFAULT_SUITE, "key": b64(KEY[:16])}, f"srtp.key must be the base64 of {KEY_BYTES} bytes"),
        ({"suite": DEFAULT_SUITE, "key": b64(KEY + b"x")}, f"srtp.key must be the base64 of {KEY_BYTES} bytes"),
        ({"suite": DEFAULT_SUITE, "key": b64(KEY)[:-1]}, "srtp.key is not standard base64."),
        ({"suite": DEFAULT_SUITE, "key": b64(KEY).replace("A", "-")}, "srtp.key is not standard base64."),
        ({"suite": DEFAULT_SUITE, "key": "é" * 40}, "srtp.key is not standard base64."),
    ],
)
def test_a_malformed_key_is_refused_with_a_message(value: object, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace(".", r"\.")):
        parse_forward_key(value)
