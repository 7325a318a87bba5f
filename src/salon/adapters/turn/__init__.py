"""Adapters layer: the managed coturn (TURN relay) that ``salon serve`` runs when ``SALON_TURN=managed``."""
