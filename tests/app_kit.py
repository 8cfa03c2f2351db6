"""The whole app (store, actors, personas) with the fake claude and a view that records."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from actors.chat.inbound import HERE, Incoming, Pressed, TopicChanged, Where
from actors.chat.view import Keyboard
from actors.runtime.testkit import FakeClock, SequentialIds, run_until_idle
from actors.session import events as ev
from eventstore import Event
from service.app import App, open_app
from service.config import load_settings
from tests import log_truth
from tests.session_kit import FAKE_CLAUDE, fake_claude_config


@dataclass
class Shown:
    kind: str  # say | progress | done | typing | closed | file | photo
    text: str  # a file's caption
    buttons: Keyboard = ()
    handle: int | None = None
    key: str | None = None
    footer: str | None = None
    verbatim: str | None = None
    filename: str | None = None
    data: bytes | None = None
    silent: bool = False
    thread_id: int | None = None  # the topic it went into


@dataclass
class RecordingView:
    """A ChatView that remembers what each chat was shown, awaitable without sleeps. It opens
    topics where asked (``topics``: chat -> thread id -> [name, closed]), as Telegram would in
    a chat with topics."""

    shown: dict[int, list[Shown]] = field(default_factory=dict)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    next_handle: int = 100
    topics: dict[int, dict[int, list[Any]]] = field(default_factory=dict)

    async def _add(self, chat_id: int, item: Shown) -> None:
        self.shown.setdefault(chat_id, []).append(item)
        async with self.changed:
            self.changed.notify_all()

    async def say(
        self,
        chat_id: int,
        text: str,
        *,
        buttons: Keyboard = (),
        markdown: bool = False,
        verbatim: str | None = None,
        silent: bool = False,
        thread_id: int | None = None,
    ) -> int | None:
        self.next_handle += 1
        shown = Shown(
            "say", text, buttons, self.next_handle, verbatim=verbatim, silent=silent,
            thread_id=thread_id,
        )  # fmt: skip
        await self._add(chat_id, shown)
        return self.next_handle

    async def send_file(
        self,
        chat_id: int,
        filename: str,
        data: bytes,
        caption: str,
        *,
        thread_id: int | None = None,
    ) -> int | None:
        return await self._sent("file", chat_id, filename, data, caption, thread_id)

    async def send_photo(
        self,
        chat_id: int,
        filename: str,
        data: bytes,
        caption: str,
        *,
        thread_id: int | None = None,
    ) -> int | None:
        return await self._sent("photo", chat_id, filename, data, caption, thread_id)

    async def _sent(
        self,
        kind: str,
        chat_id: int,
        filename: str,
        data: bytes,
        caption: str,
        thread_id: int | None,
    ) -> int:
        self.next_handle += 1
        shown = Shown(
            kind, caption, handle=self.next_handle, filename=filename, data=data,
            thread_id=thread_id,
        )  # fmt: skip
        await self._add(chat_id, shown)
        return self.next_handle

    async def reply_progress(
        self, chat_id: int, key: str, text: str, status: str | None, *, thread_id: int | None = None
    ) -> None:
        shown = Shown("progress", text, key=key, footer=status, thread_id=thread_id)
        await self._add(chat_id, shown)

    async def reply_done(
        self,
        chat_id: int,
        key: str,
        text: str,
        footer: str | None,
        *,
        buttons: Keyboard = (),
        thread_id: int | None = None,
    ) -> None:
        shown = Shown("done", text, buttons, key=key, footer=footer, thread_id=thread_id)
        await self._add(chat_id, shown)

    async def typing(self, chat_id: int, on: bool, *, thread_id: int | None = None) -> None:
        await self._add(chat_id, Shown("typing", "on" if on else "off", thread_id=thread_id))

    async def create_topic(self, chat_id: int, name: str) -> int | None:
        self.next_handle += 1  # a topic's id is the id of the message that opened it
        self.topics.setdefault(chat_id, {})[self.next_handle] = [name, False]
        return self.next_handle

    async def close_topic(self, chat_id: int, thread_id: int) -> bool:
        self.topics[chat_id][thread_id][1] = True
        return True

    async def reopen_topic(self, chat_id: int, thread_id: int) -> bool:
        self.topics[chat_id][thread_id][1] = False
        return True

    def in_topic(self, chat_id: int, thread_id: int | None, kind: str = "say") -> list[str]:
        """What one topic of a chat was shown (None: the chat itself, or General)."""
        return [s.text for s in self.of(chat_id, kind) if s.thread_id == thread_id]

    async def close_buttons(
        self, chat_id: int, handle: int, text: str, *, verbatim: str | None = None
    ) -> None:
        await self._add(chat_id, Shown("closed", text, handle=handle, verbatim=verbatim))

    def of(self, chat_id: int, kind: str) -> list[Shown]:
        return [s for s in self.shown.get(chat_id, []) if s.kind == kind]

    def texts(self, chat_id: int, kind: str = "say") -> list[str]:
        return [s.text for s in self.of(chat_id, kind)]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 15) -> Any:
        async def until() -> Any:
            async with self.changed:
                return await self.changed.wait_for(predicate)

        return await asyncio.wait_for(until(), timeout)

    async def wait_count(self, chat_id: int, kind: str, count: int) -> list[Shown]:
        await self.wait_for(lambda: len(self.of(chat_id, kind)) >= count)
        return self.of(chat_id, kind)


def app_settings(
    tmp: Path, claude_env: dict[str, str] | None = None, config: str = "", **env: str
) -> Any:
    base = {
        "POCKETCODE_DATA_DIR": str(tmp / "data"),
        "POCKETCODE_CLAUDE_BIN": FAKE_CLAUDE,
        "POCKETCODE_ALLOWED_USERS": "7",
        "POCKETCODE_PERSONAS_DIR": str(tmp / "personas"),
    }
    return load_settings(fake_claude_config(tmp, config, **(claude_env or {})), env={**base, **env})


@dataclass
class AppKit:
    tmp: Path
    clock: FakeClock = field(default_factory=FakeClock)
    view: RecordingView = field(default_factory=RecordingView)
    app: App | None = None
    n: int = 0
    #: One id sequence for every start: turn ids stay unique across restarts, as uuids do.
    ids: SequentialIds = field(default_factory=lambda: SequentialIds("id"))
    #: ``claude.env`` of the config, beside the fake's state directory.
    claude_env: dict[str, str] = field(default_factory=dict)
    #: More of the config file, as YAML (``routines: {catch_up: skip}``).
    config: str = ""

    async def start(self, **env: str) -> App:
        """Open (or reopen, after ``stop``) the app on the same data directory."""
        settings = app_settings(self.tmp, self.claude_env, self.config, **env)
        self.app = await open_app(settings, clock=self.clock, ids=self.ids)
        self.clock.attach(self.app.system)
        log_truth.track(self.app.system)
        self.app.view = self.view
        await self.app.recover()
        return self.app

    async def send(
        self, text: str, chat_id: int = 1, user_id: int = 7, where: Where = HERE
    ) -> None:
        assert self.app is not None
        self.n += 1
        await self.app.deliver(chat_id, Incoming(user_id, text, f"upd-{self.n}", where))

    async def press(
        self,
        action: str,
        arg: str,
        chat_id: int = 1,
        handle: int | None = None,
        where: Where = HERE,
    ) -> None:
        assert self.app is not None
        self.n += 1
        await self.app.deliver(chat_id, Pressed(7, action, arg, handle, f"upd-{self.n}", where))

    async def topic_changed(
        self, change: str, thread_id: int, title: str | None = None, chat_id: int = 1
    ) -> None:
        """Telegram's note that a topic was opened, renamed, closed or reopened by the user."""
        assert self.app is not None
        self.n += 1
        where = Where(thread_id, True)
        await self.app.deliver(chat_id, TopicChanged(7, change, title, f"upd-{self.n}", where))

    async def settle(self) -> None:
        """Run until every actor's mailbox is empty and no claude is still writing a turn."""
        assert self.app is not None
        await run_until_idle(self.app.system)

    async def settle_mailboxes(self) -> None:
        """Run until every actor's mailbox is empty (a claude may still be working)."""
        assert self.app is not None
        await run_until_idle(self.app.system, io=False)

    async def said(self, needle: str, chat_id: int = 1) -> str:
        """The latest thing the chat was told that holds ``needle``, once it has been told."""
        await self.view.wait_for(lambda: any(needle in t for t in self.view.texts(chat_id)))
        return [t for t in self.view.texts(chat_id) if needle in t][-1]

    async def turn(self, text: str, chat_id: int = 1) -> Shown:
        """Send ``text`` and wait for the final reply of the turn it makes."""
        done = len(self.view.of(chat_id, "done"))
        await self.send(text, chat_id)
        return (await self.view.wait_count(chat_id, "done", done + 1))[done]

    async def status(self, chat_id: int = 1) -> str:
        """What ``/status`` says now."""
        self.view.shown.clear()
        await self.send("/status", chat_id)
        return await self.said("Session: ", chat_id)

    async def answer(self, command: str, chat_id: int = 1) -> str:
        """Send ``command``; the chat's last line once every actor is idle."""
        await self.send(command, chat_id)
        await self.settle()
        return self.view.texts(chat_id)[-1]

    async def session_events(self, session: str) -> list[Event]:
        assert self.app is not None
        return await self.app.store.read_stream(ev.stream_of(session))

    async def argvs(self, session: str) -> list[list[str]]:
        """The command line of every claude the session started, in order."""
        events = await self.session_events(session)
        return [e.data["argv"] for e in events if e.type == ev.PROCESS_STARTED]

    async def crash(self) -> None:
        """pocketcode killed (kill -9), as near as one process can come: the log takes nothing
        more (what it holds is all a restart has), then every actor is cancelled mid-flight and
        its claude stopped; no shutdown runs. Live state is compared with the log first."""
        assert self.app is not None
        app, self.app = self.app, None
        await log_truth.compare(app.system)
        await app.store.close()
        await app.system.stop_all(drain=False)

    async def stop(self) -> None:
        """Shut the app down (a clean restart when started again), first checking that every
        actor's state is the fold of its log."""
        if self.app is not None:
            await log_truth.compare(self.app.system)
            await self.app.shutdown()
            self.app = None


@contextlib.asynccontextmanager
async def open_app_kit(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AppKit]:
    """The app started on a data directory under ``tmp`` (the fake claude keeps its state
    there too, through ``claude.env``); shut down after. ``monkeypatch``: for callers' sake."""
    kit = AppKit(tmp)
    await kit.start()
    try:
        yield kit
    finally:
        await kit.stop()
