"""Broadcast layer: ``python -m salon.broadcast`` runs one broadcast node (see ``salon.broadcast.config``)."""

from salon.broadcast.server import main

main()
