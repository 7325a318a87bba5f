"""Adapters layer: the event bus across several instances, on Redis pub/sub (``bus.RedisBus``), with each room's
events kept whole and in order from the database (``sequencer.RoomSequencer``)."""
