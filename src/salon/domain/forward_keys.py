"""Domain layer: the SRTP key of one forward of a room's mix to a broadcast node — its suite and its master key and
salt, as the node's control API carries them (``{"suite": "AES_CM_128_HMAC_SHA1_80", "key": "<base64>"}``) and as
Janus's AudioBridge ``rtp_forward`` takes them (``srtp_suite`` 80 or 32, the tag's length in bits, and
``srtp_crypto``, the same base64 as an SDES inline key).

Pure: whoever makes a key draws its bytes (one fresh key per forward: docs/ARCHITECTURE.md, "The broadcast tier");
this module only checks and converts it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Final

# The AES-128 counter-mode suites with HMAC-SHA1 tags (RFC 3711), named as SDES names them, by their tag's bits.
SUITES: Final[dict[str, int]] = {"AES_CM_128_HMAC_SHA1_80": 80, "AES_CM_128_HMAC_SHA1_32": 32}
DEFAULT_SUITE: Final = "AES_CM_128_HMAC_SHA1_80"
KEY_BYTES: Final = 30  # a 16-byte master key then a 14-byte master salt
_FIELDS: Final = frozenset({"suite", "key"})


@dataclass(frozen=True)
class ForwardKey:
    """One forward's SRTP parameters; ``ValueError`` for an unknown suite or a key of the wrong length."""

    suite: str
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if self.suite not in SUITES:
            raise ValueError(f"srtp.suite must be one of {', '.join(sorted(SUITES))}.")
        if len(self.key) != KEY_BYTES:
            raise ValueError(f"srtp.key must be the base64 of {KEY_BYTES} bytes (master key and salt).")

    @property
    def tag_bits(self) -> int:
        return SUITES[self.suite]

    @property
    def key_base64(self) -> str:
        return base64.b64encode(self.key).decode("ascii")

    def as_json(self) -> dict[str, str]:
        return {"suite": self.suite, "key": self.key_base64}


def parse_forward_key(value: object) -> ForwardKey:
    """The key in a control call's ``srtp`` field: an object with exactly ``suite`` and ``key`` (standard base64,
    padded, of exactly ``KEY_BYTES`` bytes); ``ValueError`` with a message for the caller otherwise."""
    if not isinstance(value, dict) or value.keys() != _FIELDS:
        raise ValueError("srtp must be a JSON object with exactly: key, suite.")
    suite, key = value["suite"], value["key"]
    if not isinstance(suite, str) or not isinstance(key, str):
        raise ValueError("srtp.suite and srtp.key must be strings.")
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ValueError("srtp.key is not standard base64.") from None
    return ForwardKey(suite, raw)
