"""CLI layer: the real probes of ``salon doctor``'s TURN check (cli/doctor_checks.py, ``check_turn``): is coturn
installed, does something answer STUN on the TURN port here, would the port bind, can a file be read."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from aioice import stun

from salon.adapters.turn.process import TURN_BINARY

STUN_TIMEOUT_S = 1.0  # coturn on this machine answers in well under a millisecond


def coturn_installed() -> bool:
    return TURN_BINARY.exists()


def stun_answers(host: str, port: int) -> bool:
    """Does a STUN server answer a binding request at host:port over UDP? coturn answers one without credentials."""
    request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(STUN_TIMEOUT_S)
        try:
            sock.sendto(bytes(request), (host, port))
            data = sock.recv(2048)
            answer = stun.parse_message(data)
        except (OSError, ValueError):  # refused (ICMP), timed out, or not STUN
            return False
    return answer.transaction_id == request.transaction_id and answer.message_method == stun.Method.BINDING


def port_bindable(host: str, port: int, transport: Literal["udp", "tcp"]) -> bool:
    kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def readable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.R_OK)
