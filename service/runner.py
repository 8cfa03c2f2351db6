"""Running pocketcode: the Telegram bot (``run``) and the terminal front (``chat``)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys

import structlog
from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramUnauthorizedError
from aiogram.types import User

from service.app import App, open_app
from service.config import Config
from service.errors import PocketcodeError
from service.polling import ALLOWED_UPDATES, poll

log = structlog.get_logger("runner")
#: The terminal front is one chat, as this (pseudo) user.
TERMINAL_CHAT_ID = 0
TERMINAL_USER_ID = 0


def freeze_startup_heap() -> None:
    """Leave what startup built out of every later garbage collection.

    Modules, classes, pydantic's schemas and the app are ~200k objects that live as long as
    the process; each full collection walked them all again, a loop blocked for ~1 s on a
    loaded 2-core machine (bench/PROFILE.md). Frozen, they are never collected: a cycle among
    them that dies later (an actor of the recovery stopped when idle) stays in memory.
    """
    gc.collect()
    gc.freeze()


def on_sigterm(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


async def connect_bot(settings: Config) -> tuple[Bot, User]:
    """The bot, once Telegram has accepted its token."""
    from service.telegram.bot import make_bot

    bot = make_bot(settings)
    try:
        return bot, await bot.get_me()
    except TelegramUnauthorizedError:
        await bot.session.close()
        raise PocketcodeError(
            "Telegram refused the bot token (401): check it with @BotFather"
        ) from None


async def run_telegram(settings: Config) -> int:
    """``pocketcode run`` (``--role all``): intake and every chat in this one process."""
    from service.telegram.bot import COMMANDS, build_dispatcher, make_view

    bot, me = await connect_bot(settings)
    app = await open_app(settings)
    view = make_view(bot, settings, clock=app.system.clock)
    app.view = view
    dp = build_dispatcher(
        deliver=app.deliver,
        on_denied=app.on_denied,
        settings=settings,
        private_topics=bool(me.has_topics_enabled),
    )
    stop = asyncio.Event()
    on_sigterm(stop)
    try:
        await bot.set_my_commands(COMMANDS)
        await app.recover()
        app.start_reaper()
        freeze_startup_heap()
        log.info("pocketcode.started", bot=me.username, db=str(settings.db_path))
        if settings.telegram.webhook_url:
            await serve_webhook(settings, dp, bot, stop)
        else:
            await poll(dp, bot, app.intake, stop)
    finally:
        await app.shutdown()
        await view.close()
        await bot.session.close()
    log.info("pocketcode.stopped")
    return 0


async def serve_webhook(settings: Config, dp: Dispatcher, bot: Bot, stop: asyncio.Event) -> None:
    from aiohttp import web

    from service.telegram.webhook import WEBHOOK_PATH, build_webhook_app

    tg = settings.telegram
    secret = tg.webhook_secret.get_secret_value() if tg.webhook_secret else ""
    runner = web.AppRunner(build_webhook_app(dp, bot, secret=secret))
    await runner.setup()
    host, _, port = tg.webhook_listen.rpartition(":")
    await web.TCPSite(runner, host or "127.0.0.1", int(port)).start()
    url = (tg.webhook_url or "").rstrip("/") + WEBHOOK_PATH
    await bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
    log.info("telegram.webhook_set", url=url, listen=tg.webhook_listen)
    try:
        await stop.wait()
        log.info("pocketcode.stopping")
    finally:
        await runner.cleanup()


async def run_terminal(settings: Config) -> int:
    """The same chat actor over stdin/stdout: try pocketcode without Telegram, or debug it."""
    from service.terminal import TerminalView, run_terminal_loop

    app: App = await open_app(settings)
    app.view = TerminalView(sys.stdout)
    await app.recover()
    print("pocketcode terminal chat. /help for commands, /quit or Ctrl-D to leave.")
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        await run_terminal_loop(
            app.deliver,
            user_id=TERMINAL_USER_ID,
            chat_id=TERMINAL_CHAT_ID,
            stdin=reader,
            prefix=f"tty{app.system.ids()}",
        )
        await _finish_turns(app)  # piped input: answer what was typed before leaving
    finally:
        await app.shutdown()
    return 0


async def _finish_turns(app: App, poll_s: float = 0.2) -> None:
    """Wait until every session is idle (or the turn timeout passes)."""
    from actors.session.messages import GetState

    deadline = asyncio.get_running_loop().time() + app.settings.claude.turn_timeout_s
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(poll_s)
        refs = [ref for name in app.sessions if (ref := app.sessions.peek(name)) is not None]
        states = [await ref.ask(GetState()) for ref in refs]
        if app.system.idle and not any(s.busy or s.pending for s in states):
            return
