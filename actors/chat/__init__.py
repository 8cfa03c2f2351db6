"""One actor per chat: what the user sees, routed by command and button to handler modules."""
