"""Broadcast layer: who may open a stream — the ticket checked against the path's room, used at most once, for a
room this node serves, within the node's listener budget.

The checks run in the order of the wire spec's refusals, and a ticket's nonce is spent only when the stream opens:
a ticket refused for a room not registered yet (404) or a full node (503) can be retried until it expires. Nonces
are remembered until their ticket expires (then the ticket is refused as expired anyway), so the memory holds at
most the tickets of the last 30 s.
"""

from __future__ import annotations

from collections.abc import Mapping

from salon.broadcast.http import HttpError
from salon.broadcast.node import Node, Room
from salon.domain.errors import ErrorCode
from salon.domain.stream_tickets import StreamTicket, TicketRefused, verify_ticket


class UsedNonces:
    """The nonces of tickets that opened a stream, each kept until its ticket's expiry (unix seconds)."""

    def __init__(self) -> None:
        self._expiry: dict[str, int] = {}

    def __contains__(self, nonce: str) -> bool:
        return nonce in self._expiry

    def __len__(self) -> int:
        return len(self._expiry)

    def spend(self, nonce: str, expires_at: int) -> None:
        self._expiry[nonce] = expires_at

    def forget_expired(self, now: float) -> None:
        """Drop nonces whose tickets have expired (nothing can reuse them: expiry is checked first)."""
        for nonce in [n for n, exp in self._expiry.items() if exp <= now]:
            del self._expiry[nonce]


class Admission:
    """Checks tickets for one node with the shared secret."""

    def __init__(self, secret: str, node: Node) -> None:
        self._secret = secret
        self.node = node
        self.used = UsedNonces()

    def admit(self, room_id: str, query: Mapping[str, str], *, now: float) -> tuple[Room, StreamTicket]:
        """The room and the ticket's claims when ``query``'s ticket may open a stream of ``room_id`` now; an
        :class:`HttpError` with the spec's status and code otherwise. On success the nonce is spent."""
        text = query.get("ticket")
        if not text:
            raise HttpError(400, ErrorCode.INVALID_INPUT, "The ticket query parameter is missing.")
        try:
            ticket = verify_ticket(self._secret, text, node=self.node.name, now=now)
        except TicketRefused as refused:
            raise HttpError(401, refused.code, refused.message) from None
        if ticket.room != room_id:
            raise HttpError(403, ErrorCode.TICKET_WRONG_ROOM, "The ticket is for another room.")
        if ticket.nonce in self.used:
            raise HttpError(409, ErrorCode.TICKET_USED, "The ticket was used already; ask for a new one.")
        room = self.node.rooms.get(room_id)
        if room is None:
            raise HttpError(404, ErrorCode.NOT_FOUND, "This room is not served by this broadcast node.")
        if not self.node.has_room_for(room_id, ticket.user):
            raise HttpError(503, ErrorCode.ROOM_FULL, "This broadcast node has no room for another listener.")
        self.used.spend(ticket.nonce, ticket.expires_at)
        return room, ticket
