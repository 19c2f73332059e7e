"""Channel-neutral conversations: each inbound message runs one step and returns replies."""
