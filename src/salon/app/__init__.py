"""App layer: use cases named by verb, and the ports they need.

A use case loads state, calls a ``salon.domain`` rule, saves, and publishes events only after the commit. May
import ``salon.domain`` and the database repositories in ``salon.store`` (see docs/ARCHITECTURE.md, "The
store is not a port"); never ``salon.web`` or ``salon.cli``.
"""
