"""Channels and wiring: CLI, console channel, composition root."""
