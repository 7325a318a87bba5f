"""Client layer: ``python -m salon.client`` runs the command-line member (``salon.client.bot``)."""

from salon.client.bot import main

main()
