"""Adapters layer: which instance drives each room's media when several share one database — a lease per room in
Redis (``lease``), requests to the holder over Redis pub/sub (``rpc``, ``codec``) and the media port that routes
every call of a room to its holder (``routing.RoutedMedia``, its room calls in ``calls``). Why: docs/ARCHITECTURE.md,
"Several instances: who drives a room's media"."""
