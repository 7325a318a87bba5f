"""Adapters layer: Alembic migration scripts (generated from ``tables.py``, reviewed by hand)."""
