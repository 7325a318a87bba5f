"""Store layer: the database — SQLAlchemy 2 (Core, async) over SQLite or PostgreSQL, Alembic migrations, and one
repository module per area (``repo_*.py``) whose functions read and write inside the caller's transaction.

Below ``salon.app``, which uses it directly (the store is not a port: docs/ARCHITECTURE.md). May import
``salon.domain`` (the records it stores), never ``salon.app``, ``salon.adapters``, ``salon.web`` or ``salon.cli``.
"""
