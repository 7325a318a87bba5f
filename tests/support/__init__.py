"""Shared helpers for salon's test suite (not tests themselves)."""
