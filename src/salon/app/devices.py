"""App layer: known devices — a token a client receives at each successful log-in or sign-up and shows at the next.

It is ``user_id.device_id.expires.mac`` with an HMAC-SHA256 under the server's secret: nothing is stored, and only
the server can make one. It is no credential (the password is still needed); it only lets the log-in limits tell
the owner's own browser or bot apart from everyone else guessing at the account (``app/accounts.py: log_in``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

DEVICE_DAYS = 365  # a device unused for a year is a stranger again
MAX_TOKEN_LENGTH = 256


@dataclass(frozen=True)
class Device:
    user_id: str
    device_id: str


def _mac(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), f"salon-device:{payload}".encode(), hashlib.sha256).hexdigest()


def issue_device_token(secret: str, device: Device, now: datetime) -> str:
    expires = int((now + timedelta(days=DEVICE_DAYS)).timestamp())
    payload = f"{device.user_id}.{device.device_id}.{expires}"
    return f"{payload}.{_mac(secret, payload)}"


def read_device_token(secret: str, token: str | None, now: datetime) -> Device | None:
    """The device a token names, or None when it is missing, malformed, forged or expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return None
    parts = token.split(".")
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    user_id, device_id, expires, mac = parts
    if not hmac.compare_digest(mac, _mac(secret, f"{user_id}.{device_id}.{expires}")):
        return None
    if int(expires) <= now.timestamp():
        return None
    return Device(user_id, device_id)
