"""Adapters layer: Salon's broadcast workers (``salon.broadcast``) as the media port uses them."""
