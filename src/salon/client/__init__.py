"""Client layer: the Python side of a Salon participant — for bots, load clients and end-to-end tests.

Talks to a Salon server (and through it to the media server) over the network like any other client, so it may
import nothing from ``salon.domain``, ``salon.app``, ``salon.adapters``, ``salon.web`` or ``salon.cli``.
``audio`` holds WebRTC (aiortc) audio sources and a sink that measures what it hears.
"""
