"""One actor per session: the turn state machine around a long-lived claude process."""
