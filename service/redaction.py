"""Defence in depth: pocketcode's secrets are cut out of what goes into the log or a chat.

claude never gets the token in its environment, but it runs as the same user and could still
find it (a token file, ``/proc``). Whatever it prints passes through here before it is appended
to the event log or shown, so a secret it found ends up as ``<redacted>``, not in the chat, the
log or archives; and what the user sends reaches claude as logged, so a token pasted by mistake
does not reach it. The wrappers are put in place at the composition root (``service.app``): the
event store stays free of project code, the actors never notice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from actors.chat.view import Button, ChatView, Keyboard
from actors.session import events as ev
from eventstore import Event, EventStore, NewEvent, WrappedStore
from service.config import MIN_SECRET_LEN
from service.logs import REDACTED

_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Secrets:
    """Replaces known secret values in text and in nested JSON-like data. ``MIN_SECRET_LEN``
    is also the shortest piece of a secret that ``pieces`` redacts."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        kept = {v for v in values if len(v) >= MIN_SECRET_LEN}
        self.values = sorted(kept, key=len, reverse=True)  # a whole token before its half
        #: For pieces, a value that ends with another is left out (the token, beside its half
        #: after the public bot id): one search fewer on every streamed string.
        self._piece_values = [
            v for v in self.values if not any(v != o and v.endswith(o) for o in kept)
        ]
        #: Each value as it appears inside a JSON string (``found_in``).
        self._in_json = [_json(v)[1:-1] for v in self.values]

    def text(self, text: str) -> str:
        for value in self.values:
            if value in text:  # the usual case costs one scan per secret, no copy
                text = text.replace(value, REDACTED)
        return text

    def pieces(self, text: str) -> str:
        """``text()``, and also a piece of a secret that ends or starts ``text``, or is all of
        it: what a secret split across streamed deltas leaves in each one."""
        text = self.text(text)
        if len(text) < MIN_SECRET_LEN:
            return text
        cut_from, cut_to = len(text), 0  # redact text[cut_from:] and text[:cut_to]
        for value in self._piece_values:
            if len(text) < len(value) and text in value:
                return REDACTED
            # A piece ending the text begins with the secret's first characters...
            head = value[:MIN_SECRET_LEN]
            at = text.find(head, max(0, len(text) - len(value) + 1))
            while at != -1 and not value.startswith(text[at:]):
                at = text.find(head, at + 1)
            if at != -1:
                cut_from = min(cut_from, at)
            # ...and one starting it ends with the secret's last ones.
            tail = value[-MIN_SECRET_LEN:]
            at = text.rfind(tail, 0, len(value) - 1)
            while at != -1 and not value.endswith(text[: at + MIN_SECRET_LEN]):
                at = text.rfind(tail, 0, at + MIN_SECRET_LEN - 1)
            if at != -1:
                cut_to = max(cut_to, at + MIN_SECRET_LEN)
        if cut_to >= cut_from:
            return REDACTED
        head_part = REDACTED if cut_to else ""
        tail_part = REDACTED if cut_from < len(text) else ""
        return head_part + text[cut_to:cut_from] + tail_part

    def found_in(self, value: Any) -> bool:
        """Whether a secret may be in a string of ``value`` (a key or a value, at any depth).

        One scan of its JSON text per secret instead of a walk in Python over every string:
        JSON escapes each character on its own, so a string holding a secret holds it escaped.
        A false alarm only costs the walk (``data``).
        """
        try:
            encoded = _json(value)
        except (TypeError, ValueError):  # not JSON: walk it
            return True
        return any(v in encoded for v in self._in_json)

    def data(self, value: Any, text: Callable[[str], str] | None = None) -> Any:
        """``value`` with every string in it redacted (by ``text``, default ``self.text``):
        dict keys and values, list items, at any depth."""
        if not self.values:
            return value
        text = text or self.text
        if isinstance(value, str):
            return text(value)
        if isinstance(value, dict):
            return {self.data(k, text): self.data(v, text) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.data(v, text) for v in value)
        return value


class RedactingStore(WrappedStore):
    """An ``EventStore`` that redacts every event's data before it is appended; in the deltas
    of ``session.stream`` (text, thinking, tool input) also pieces of a secret split across
    them."""

    def __init__(self, inner: EventStore, secrets: Secrets) -> None:
        super().__init__(inner)
        self.secrets = secrets

    def _redacted(self, event: NewEvent) -> NewEvent:
        """The event as it may be logged; the same object when it holds no secret (the usual
        case, checked without walking it: this runs for every line claude writes)."""
        data = event.data
        if self.secrets.found_in(data):
            data = self.secrets.data(data)
        if event.type == ev.STREAM:
            data = self._delta_pieces(data)
        return event if data is event.data else dataclasses.replace(event, data=data)

    def _delta_pieces(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` with pieces of a secret cut from its delta's strings (never changed in
        place: new dicts along the path to a delta that changed)."""
        line = data.get("line")
        streamed = line.get("event") if isinstance(line, dict) else None
        delta = streamed.get("delta") if isinstance(streamed, dict) else None
        if not isinstance(line, dict) or not isinstance(streamed, dict):
            return data
        if not isinstance(delta, dict):
            return data
        cut = self.secrets.data(delta, self.secrets.pieces)
        if cut == delta:
            return data
        return {**data, "line": {**line, "event": {**streamed, "delta": cut}}}

    async def append(
        self, stream: str, events: Sequence[NewEvent], *, expected_version: int | None = None
    ) -> list[Event]:
        if self.secrets.values:
            events = [self._redacted(e) for e in events]
        return await self.inner.append(stream, events, expected_version=expected_version)


class RedactingView:
    """A ``ChatView`` that redacts every text, status, footer and button label it shows."""

    def __init__(self, inner: ChatView, secrets: Secrets) -> None:
        self.inner = inner
        self.secrets = secrets

    def _opt(self, text: str | None) -> str | None:
        return None if text is None else self.secrets.text(text)

    def _buttons(self, buttons: Keyboard) -> Keyboard:
        return tuple(
            tuple(Button(self.secrets.text(b.label), b.action, b.arg) for b in row)
            for row in buttons
        )

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
        return await self.inner.say(
            chat_id,
            self.secrets.text(text),
            buttons=self._buttons(buttons),
            markdown=markdown,
            verbatim=self._opt(verbatim),
            silent=silent,
            thread_id=thread_id,
        )

    async def send_file(
        self,
        chat_id: int,
        filename: str,
        data: bytes,
        caption: str,
        *,
        thread_id: int | None = None,
    ) -> int | None:
        """A file of text (a command, a diff) is redacted like any text; other bytes go as
        they are."""
        with contextlib.suppress(UnicodeDecodeError):
            data = self.secrets.text(data.decode("utf-8")).encode("utf-8")
        caption = self.secrets.text(caption)
        return await self.inner.send_file(chat_id, filename, data, caption, thread_id=thread_id)

    async def send_photo(
        self,
        chat_id: int,
        filename: str,
        data: bytes,
        caption: str,
        *,
        thread_id: int | None = None,
    ) -> int | None:
        """An image goes as it is (its pixels are not text); its caption is redacted."""
        caption = self.secrets.text(caption)
        return await self.inner.send_photo(chat_id, filename, data, caption, thread_id=thread_id)

    async def reply_progress(
        self, chat_id: int, key: str, text: str, status: str | None, *, thread_id: int | None = None
    ) -> None:
        """The reply so far may end in the first half of a secret whose rest is still coming."""
        await self.inner.reply_progress(
            chat_id, key, self.secrets.pieces(text), self._opt(status), thread_id=thread_id
        )

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
        await self.inner.reply_done(
            chat_id,
            key,
            self.secrets.text(text),
            self._opt(footer),
            buttons=self._buttons(buttons),
            thread_id=thread_id,
        )

    async def typing(self, chat_id: int, on: bool, *, thread_id: int | None = None) -> None:
        await self.inner.typing(chat_id, on, thread_id=thread_id)

    async def close_buttons(
        self, chat_id: int, handle: int, text: str, *, verbatim: str | None = None
    ) -> None:
        await self.inner.close_buttons(
            chat_id, handle, self.secrets.text(text), verbatim=self._opt(verbatim)
        )

    async def create_topic(self, chat_id: int, name: str) -> int | None:
        return await self.inner.create_topic(chat_id, self.secrets.text(name))

    async def close_topic(self, chat_id: int, thread_id: int) -> bool:
        return await self.inner.close_topic(chat_id, thread_id)

    async def reopen_topic(self, chat_id: int, thread_id: int) -> bool:
        return await self.inner.reopen_topic(chat_id, thread_id)
