"""Salon: self-hostable live audio rooms.

Layers, each importing only those below it: ``domain`` (pure rules) ← ``store`` (the database) ← ``app`` (use cases,
ports) ← ``adapters`` (implementations of the ports) ← ``web`` ← ``cli``; ``client`` speaks to a server over the
public API only. docs/ARCHITECTURE.md has the table, and tests/unit/test_layers.py enforces it.
"""
