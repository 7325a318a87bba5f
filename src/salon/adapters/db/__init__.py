"""Adapters layer: SQLAlchemy 2 (Core, async) over SQLite or PostgreSQL, with Alembic migrations."""
