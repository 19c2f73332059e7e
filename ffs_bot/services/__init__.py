"""Use cases: plain async functions taking a unit of work and primitives."""
