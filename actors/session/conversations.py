"""Which of claude's conversations pocketcode's sessions drive, from the log.

A session's conversation id is what claude reported (``system/init`` on stdout), what it was
started to resume (``session.process_started`` ``resume_id``) or what ``/resume`` imported
(``session.imported``). ``/resume`` leaves those out of the desk's conversations, and the
session list shows each session's current one as the command that continues it at a terminal.

Built from the log the first time it is asked (a scan of those event types, paid once, not at
every start), and kept current from then on by the events the sessions append. Both may
interleave: each session's current id is the one of the latest event by sequence number, so
an older event read late never replaces a newer one seen live.
"""

from __future__ import annotations

import asyncio

from actors.claude import codec
from actors.session import events as ev
from eventstore import Event, EventStore

#: The event types that name a session's conversation.
TYPES = frozenset({ev.STDOUT, ev.PROCESS_STARTED, ev.IMPORTED, ev.RESUME_FAILED})


class DrivenConversations:
    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._loaded = False
        self._lock = asyncio.Lock()
        #: Conversation id -> the session that drives (or drove) it.
        self._owners: dict[str, str] = {}
        #: Session -> (sequence number, its current conversation id; None after a lost one).
        self._current: dict[str, tuple[int, str | None]] = {}

    def observe(self, event: Event) -> None:
        if event.type not in TYPES:
            return
        name = event.stream.removeprefix("session:")
        data = event.data
        conversation: str | None
        match event.type:
            case ev.STDOUT:
                line = data.get("line")
                if not isinstance(line, dict) or (init := codec.init_info(line)) is None:
                    return
                conversation = init.session_id
            case ev.PROCESS_STARTED:
                conversation = data.get("resume_id")
            case ev.IMPORTED:
                conversation = data.get("claude_session_id")
            case _:  # ev.RESUME_FAILED: the conversation is gone
                conversation = None
        if conversation is None and event.type != ev.RESUME_FAILED:
            return
        if conversation is not None:
            self._owners[conversation] = name
        seen = self._current.get(name)
        if seen is None or seen[0] < event.seq:
            self._current[name] = (event.seq, conversation)

    async def load(self) -> None:
        """Read the log once (later calls return at once)."""
        async with self._lock:
            if self._loaded:
                return
            async for event in self._store.read_all(stream_prefix="session:", types=TYPES):
                self.observe(event)
            self._loaded = True

    async def owners(self) -> dict[str, str]:
        """Conversation id -> the session that drives it."""
        await self.load()
        return dict(self._owners)

    async def current(self) -> dict[str, str]:
        """Session -> the conversation it continues now (sessions without one left out)."""
        await self.load()
        return {name: cid for name, (_, cid) in self._current.items() if cid is not None}
