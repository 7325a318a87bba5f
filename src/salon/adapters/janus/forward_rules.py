"""Adapters layer: which RTP forwards of a floor AudioBridge room may exist together, given a bug of Janus 1.1.2's
mixer (docs/ARCHITECTURE.md, "Janus 1.1.2: one Opus forward per group").

Each 20 ms tick, AudioBridge walks a room's forwarders in hash-table order (random: keyed by their random
``stream_id``). An Opus forwarder encodes its group's mix the first time that group comes up in the tick, into a
buffer of the group's own, but the packet's length is ONE variable shared by every group: a later forwarder of an
already-encoded group sends that group's buffer cut or padded to the length of the LAST encode, whichever group it
was. A floor room forwards its whole mix to the Original mountpoint (always), to each interpretation channel's floor
feed and to each broadcast node carrying the room, and, once someone took the per-speaker mix, each group's mix to
the per-speaker mountpoint. With group forwards and two whole-mix forwards, every tick where a group forward comes
between them sends the second one garbage or near-silence.

So the rule: the per-speaker mix (group forwards) and more than one whole-mix forward never coexist in a floor room.
Interpretation and a broadcast audience (the big rooms) win over the per-speaker nicety. A pure function of the
counts passed in, so it is tested on its own (tests/unit/adapters/test_forward_rules.py) and used by both sides:
refusing an opt-in, and making way for a new whole-mix forward.
"""

from __future__ import annotations

from typing import Final

ORIGINAL: Final = 1  # the floor's forward to its own mountpoint (the Original), made with the room and always there


def whole_mix_forwards(*, channels: int, broadcast_nodes: int) -> int:
    """How many forwards of a floor room's whole mix there are: the Original's, each channel's floor feed's, and
    each broadcast node's carrying the room."""
    if channels < 0 or broadcast_nodes < 0:
        raise ValueError("counts are never negative")
    return ORIGINAL + channels + broadcast_nodes


def may_coexist(*, group_forwards: bool, whole_mix: int) -> bool:
    """Whether a floor room with these forwards is safe from the bug: group forwards (the per-speaker mix) only while
    the whole mix has a single forward."""
    return not group_forwards or whole_mix <= 1
