"""CLI layer: ``salon serve | migrate | invite | user | room``. Calls app use cases, never the database directly."""
