"""Broadcast layer: the broadcast node, Salon's own uvloop worker (``python -m salon.broadcast``) that receives a
room's Opus mix as RTP and writes the same bytes to every listener over one long-lived chunked HTTP response each.

It imports only ``salon.domain`` (tickets, error codes); it talks to Salon through its control API and tickets
signed with the shared secret, never through Salon's code. docs/ARCHITECTURE.md ("The broadcast tier") sums it up.
"""
