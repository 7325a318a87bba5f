"""Adapters layer: the Janus WebRTC gateway — its managed process and a typed client for its HTTP API."""
