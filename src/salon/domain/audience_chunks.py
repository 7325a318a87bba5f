"""Domain layer: how long a chunk of audio the node writes at once, from how many listeners it serves.

The lever on the node's CPU is writes per listener-second: a 20 ms chunk costs 50 writes a second per listener,
100 ms costs 10. So the chunk follows the node's total listener count along a policy such as
``1000:20,2500:40,5000:60,10000:100,inf:120`` (up to 1,000 listeners 20 ms chunks, …). It grows at once when the
count crosses a step up (the CPU is needed now) and shrinks only once the count is 10 % below the lower step, so a
count hovering at a boundary does not flip the chunk back and forth. Pure: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

PACKET_MS = 20  # one Opus packet per RTP packet, 20 ms each (the AudioBridge's default)
MAX_CHUNK_MS = 1000
DEFAULT_POLICY = "1000:20,2500:40,5000:60,10000:100,inf:120"


@dataclass(frozen=True)
class Step:
    up_to: int | None  # the largest listener count of this step; None: no limit (the last step, "inf")
    chunk_ms: int


@dataclass(frozen=True)
class ChunkPolicy:
    steps: tuple[Step, ...]

    def chunk_ms(self, level: int) -> int:
        return self.steps[level].chunk_ms


def _count(text: str, where: str) -> int | None:
    if text == "inf":
        return None
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{where}: the listener count must be a whole number or 'inf', not {text!r}")
    return int(text)


def _chunk_ms(text: str, where: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{where}: the chunk length must be a whole number of milliseconds, not {text!r}")
    ms = int(text)
    if not PACKET_MS <= ms <= MAX_CHUNK_MS or ms % PACKET_MS:
        raise ValueError(
            f"{where}: the chunk length must be a multiple of {PACKET_MS} ms from {PACKET_MS} to {MAX_CHUNK_MS}"
        )
    return ms


def parse_policy(text: str) -> ChunkPolicy:
    """The policy in ``text`` (``LISTENERS:MS,…,inf:MS``); ``ValueError`` with a message that says what is wrong."""
    steps: list[Step] = []
    for index, item in enumerate(text.split(","), start=1):
        where = f"step {index} ({item.strip()!r})"
        count, colon, ms = item.strip().partition(":")
        if not colon:
            raise ValueError(f"{where}: write each step as LISTENERS:MS")
        step = Step(_count(count, where), _chunk_ms(ms, where))
        if steps and steps[-1].up_to is None:
            raise ValueError(f"{where}: nothing may follow the 'inf' step")
        if steps and step.up_to is not None and step.up_to <= (steps[-1].up_to or 0):
            raise ValueError(f"{where}: listener counts must increase from step to step")
        if steps and step.chunk_ms < steps[-1].chunk_ms:
            raise ValueError(f"{where}: the chunk may not shrink as listeners grow")
        if step.up_to == 0:
            raise ValueError(f"{where}: a step holds at least one listener")
        steps.append(step)
    if steps[-1].up_to is not None:
        raise ValueError("the last step must be 'inf:MS', for any number of listeners")
    return ChunkPolicy(tuple(steps))


def next_level(policy: ChunkPolicy, level: int, listeners: int) -> int:
    """The policy step for ``listeners`` when the node is at step ``level``: up at once, down with hysteresis."""
    steps = policy.steps
    while (up_to := steps[level].up_to) is not None and listeners > up_to:
        level += 1
    # down only when 10 % below the lower step's limit (integer arithmetic: no rounding surprises)
    while level > 0 and listeners * 10 <= (steps[level - 1].up_to or 0) * 9:
        level -= 1
    return level
