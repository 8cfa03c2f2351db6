"""Handlers that only translate Telegram updates into chat-actor messages.

No decisions here: commands are delivered as typed text (the chat actor parses them), button
presses as `Pressed`, files as `FileArrived` and voice notes or audio files as `VoiceArrived`
once downloaded. A file over the limit is not downloaded, and one whose download fails is not
either: each becomes a `FileRefused` (with the reason in words) so the chat actor can tell the
user why and the update is handled, not dropped. Telegram's notes about topics (opened, renamed,
closed, reopened) become `TopicChanged`. Each carries `Where` it was written: its topic, and
whether the chat has topics at all.
"""

from __future__ import annotations

import io
from dataclasses import replace

import aiohttp
import structlog
from aiogram import Bot, Router
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramServerError,
)
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Chat, MaybeInaccessibleMessageUnion, Message, Update
from aiogram.types.message_generation_stopped import MessageGenerationStopped

from actors.chat.inbound import (
    Deliver,
    FileArrived,
    FileRefused,
    Incoming,
    Pressed,
    TopicChanged,
    VoiceArrived,
    Where,
)
from service.telegram.view import Act

log = structlog.get_logger(__name__)

#: Bots may download at most this much with getFile.
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024


def _cid(update: Update) -> str:
    return f"upd-{update.update_id}"


def has_topics(chat: Chat, private_topics: bool) -> bool:
    """A forum supergroup, or a private chat with the bot's topic mode on (``private_topics``:
    ``getMe``'s ``has_topics_enabled`` at start)."""
    return private_topics if chat.type == "private" else bool(chat.is_forum)


def where(message: MaybeInaccessibleMessageUnion, private_topics: bool) -> Where:
    """The topic a message is in (``is_topic_message``: not General, not a reply thread); a
    message in a topic also says the chat has topics, whatever ``getMe`` said at start."""
    if isinstance(message, Message) and message.is_topic_message:
        return Where(message.message_thread_id, True)
    return Where(None, has_topics(message.chat, private_topics))


def _topic_change(message: Message) -> tuple[str, str | None] | None:
    """(change, title) of a service message about a topic."""
    if message.forum_topic_created is not None:
        return "created", message.forum_topic_created.name
    if message.forum_topic_edited is not None:
        return "edited", message.forum_topic_edited.name
    if message.forum_topic_closed is not None:
        return "closed", None
    if message.forum_topic_reopened is not None:
        return "reopened", None
    return None


def _file_of(message: Message) -> tuple[str, str, int | None] | None:
    """(file_id, filename, reported size) of the message's document or largest photo."""
    if message.document is not None:
        doc = message.document
        name = doc.file_name or f"document_{doc.file_unique_id}"
        return doc.file_id, name, doc.file_size
    if message.photo:
        photo = message.photo[-1]  # Telegram lists sizes smallest first
        return photo.file_id, f"photo_{photo.file_unique_id}.jpg", photo.file_size
    return None


def _recording_of(message: Message) -> tuple[str, str, int | None] | None:
    """(file_id, filename, reported size) of the message's voice note or audio file."""
    if message.voice is not None:
        voice = message.voice  # Telegram records voice notes as OGG/Opus
        return voice.file_id, f"voice_{voice.file_unique_id}.ogg", voice.file_size
    if message.audio is not None:
        audio = message.audio
        return audio.file_id, audio.file_name or f"audio_{audio.file_unique_id}", audio.file_size
    return None


def download_failure(exc: Exception) -> str:
    """Why a file could not be fetched, in words for the user (never the URL: it holds the
    token)."""
    match exc:
        case TimeoutError():
            return "the download from Telegram timed out"
        case aiohttp.ClientResponseError(status=404):
            return "Telegram no longer has the file (HTTP 404)"
        case aiohttp.ClientResponseError(status=status):
            return f"Telegram's file server answered HTTP {status}"
        case TelegramNetworkError() | aiohttp.ClientError() | OSError():
            return "the connection to Telegram failed"
        case TelegramServerError(message=message):
            return f"Telegram had a server error ({message})"
        case TelegramAPIError(message=message):
            return f"Telegram refused to hand it over ({message})"
    return "the download failed"


async def _fetch(
    bot: Bot, file_id: str, refused: FileRefused, reported: int | None
) -> bytes | FileRefused:
    """The file's bytes, or why not: over the limit (as reported, as Telegram refuses it, or as
    found once downloaded) or the download failed (``refused`` with the reason in words)."""
    if reported is not None and reported > refused.limit:
        return refused
    buffer = io.BytesIO()
    try:
        await bot.download(file_id, destination=buffer)
    except Exception as e:
        if isinstance(e, TelegramBadRequest) and "too big" in e.message:
            return refused
        log.warning("telegram.download_failed", filename=refused.filename, error=repr(e))
        return replace(refused, reason=download_failure(e))
    data = buffer.getvalue()
    return data if len(data) <= refused.limit else replace(refused, size=len(data))


class Holds(Filter):
    """A message holding any of these parts (``text``, ``document``...).

    A ``Filter`` is awaited on the event loop; aiogram runs a magic filter (``F.text``) or any
    plain callable in a worker thread, a thread hop per update for a check of one attribute,
    queued behind whatever else waits for those threads.
    """

    def __init__(self, *parts: str) -> None:
        self.parts = parts

    async def __call__(self, message: Message) -> bool:
        return any(getattr(message, part) for part in self.parts)


def build_router(
    deliver: Deliver, *, upload_limit_bytes: int, private_topics: bool = False
) -> Router:
    """Router turning text, button presses and files into `Incoming`/`Pressed`/`FileArrived`;
    ``private_topics``: the bot's topic mode is on in private chats."""
    router = Router(name="pocketcode")
    limit = min(upload_limit_bytes, TELEGRAM_DOWNLOAD_LIMIT)

    def place(message: MaybeInaccessibleMessageUnion) -> Where:
        return where(message, private_topics)

    @router.message(Holds("text"))
    async def on_text(message: Message, event_update: Update) -> None:
        if message.from_user is None:  # AccessMiddleware lets only known users through
            return
        text, here = message.text or "", place(message)
        await deliver(
            message.chat.id, Incoming(message.from_user.id, text, _cid(event_update), here)
        )

    @router.message(Holds("document", "photo"))
    async def on_file(message: Message, bot: Bot, event_update: Update) -> None:
        if message.from_user is None:
            return
        found = _file_of(message)
        if found is None:
            return
        file_id, filename, size = found
        user_id, cid, here = message.from_user.id, _cid(event_update), place(message)
        refused = FileRefused(user_id, filename, size or 0, limit, cid, where=here)
        data = await _fetch(bot, file_id, refused, size)
        if isinstance(data, FileRefused):
            await deliver(message.chat.id, data)
            return
        caption = message.caption or ""
        await deliver(message.chat.id, FileArrived(user_id, filename, data, caption, cid, here))

    @router.message(Holds("voice", "audio"))
    async def on_voice(message: Message, bot: Bot, event_update: Update) -> None:
        found = _recording_of(message)
        if message.from_user is None or found is None:
            return
        file_id, filename, size = found
        user_id, cid, here = message.from_user.id, _cid(event_update), place(message)
        refused = FileRefused(user_id, filename, size or 0, limit, cid, where=here)
        data = await _fetch(bot, file_id, refused, size)
        if isinstance(data, FileRefused):
            await deliver(message.chat.id, data)
            return
        await deliver(message.chat.id, VoiceArrived(user_id, filename, data, cid, here))

    @router.message(
        Holds(
            "forum_topic_created",
            "forum_topic_edited",
            "forum_topic_closed",
            "forum_topic_reopened",
        )
    )
    async def on_topic(message: Message, event_update: Update) -> None:
        change = _topic_change(message)
        here = place(message)
        if message.from_user is None or change is None or here.thread_id is None:
            return  # General's own notes are no session's
        what, title = change
        changed = TopicChanged(message.from_user.id, what, title, _cid(event_update), here)
        await deliver(message.chat.id, changed)

    @router.callback_query(Act.filter())
    async def on_press(query: CallbackQuery, callback_data: Act, event_update: Update) -> None:
        await _answer(query)  # stop the button's spinner at once; the reply comes separately
        message = query.message
        if message is None:  # too old to carry its message: no chat to deliver to
            return
        pressed = Pressed(
            query.from_user.id,
            callback_data.action,
            callback_data.arg,
            message.message_id,
            _cid(event_update),
            place(message),
        )
        await deliver(message.chat.id, pressed)

    @router.callback_query()
    async def on_unknown_press(query: CallbackQuery) -> None:
        log.info("telegram.unknown_callback", data=(query.data or "")[:64])
        await _answer(query)

    @router.edited_message()
    async def on_edited(message: Message) -> None:
        """Edits are ignored: the original text was already acted on."""

    @router.stopped_message_generation()
    async def on_draft_stopped(stopped: MessageGenerationStopped, event_update: Update) -> None:
        """The stop button of a streaming draft (private chats: chat id is the user id), in
        the topic it streamed in."""
        chat_id, thread = stopped.chat.id, stopped.message_thread_id
        here = Where(thread, thread is not None or has_topics(stopped.chat, private_topics))
        await deliver(chat_id, Incoming(chat_id, "/stop", _cid(event_update), here))

    return router


async def _answer(query: CallbackQuery) -> None:
    """Stop the button's spinner. Telegram refuses a press too old to answer (one that waited
    while pocketcode was down): the press still counts, only its spinner already stopped."""
    try:
        await query.answer()
    except TelegramBadRequest as e:
        log.info("telegram.callback_answer_refused", error=e.message)
