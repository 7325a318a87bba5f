"""Broadcast layer: one room's inbound SRTP session (libsrtp, through pylibsrtp) — what turns the room's encrypted
forward back into RTP, and refuses whatever was not sent with the room's key.

A session is made per registration (``PUT /v1/rooms/{id}``), so a forward Janus re-created after a restart, with a
new key and a sequence that starts again, finds a fresh replay window rather than the old one's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from pylibsrtp import Error, Policy, Session

from salon.domain.forward_keys import ForwardKey

# The data the node reads is the RTP packet alone: every failure of libsrtp (a bad tag, a replay, a plain RTP
# packet, a datagram too long for its buffer) means the same to the node, so one answer, None.
Unprotect = Callable[[bytes], "bytes | None"]
_PROFILES: Final = {80: Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 32: Policy.SRTP_PROFILE_AES128_CM_SHA1_32}


def inbound(key: ForwardKey) -> Unprotect:
    """A function giving the RTP packet inside an SRTP packet sent with ``key``, or ``None`` when the packet does
    not authenticate (or replays one already seen)."""
    policy = Policy(key=key.key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=_PROFILES[key.tag_bits])
    session = Session(policy)

    def unprotect(data: bytes) -> bytes | None:
        try:
            return session.unprotect(data)
        except (Error, ValueError):
            return None

    return unprotect
