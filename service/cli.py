"""The ``pocketcode`` command: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from eventstore.dburl import secrets_in
from eventstore.errors import EventStoreError
from service.config import Config, load_settings, secret_values, startup_problems
from service.errors import PocketcodeError
from service.logs import configure_logging

Command = Callable[[Config, argparse.Namespace], Coroutine[Any, Any, int]]


def _fail(message: str) -> int:
    print(f"pocketcode: {message}", file=sys.stderr)
    return 2


def _cannot_start(problems: list[str]) -> int:
    print("pocketcode cannot start:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    return 2


async def cmd_run(settings: Config, args: argparse.Namespace) -> int:
    role: str = args.role
    if problems := startup_problems(settings, need_claude=role != "intake"):
        return _cannot_start(problems)
    if role == "all":
        from service.runner import run_telegram

        return await run_telegram(settings)
    from service.roles import run_intake, run_worker

    return await (run_intake if role == "intake" else run_worker)(settings)


async def cmd_chat(settings: Config, args: argparse.Namespace) -> int:
    if problems := startup_problems(settings, need_token=False):
        return _cannot_start(problems)
    from service.runner import run_terminal

    return await run_terminal(settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pocketcode", description="Drive Claude Code from Telegram."
    )
    parser.add_argument("--config", type=Path, help="YAML config file (env POCKETCODE_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the Telegram bot")
    run.add_argument(
        "--role",
        choices=("all", "intake", "worker"),
        default="all",
        help="all: everything in this process (default); intake: take updates from Telegram "
        "into the log; worker: run the chats it holds leases on (both need PostgreSQL; see "
        "README, More than one machine)",
    )
    run.set_defaults(handler=cmd_run)
    sub.add_parser("chat", help="chat in this terminal (no Telegram needed)").set_defaults(
        handler=cmd_chat
    )
    from service.commands import archive, doctor, latency, migrate, replay, sessions

    for command in (sessions, replay, latency, archive, doctor, migrate):
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
    except PocketcodeError as exc:
        return _fail(str(exc))
    secrets = secret_values(settings)
    if settings.data.database_url is not None:
        secrets += secrets_in(settings.data.database_url.get_secret_value())
    # The bot logs to stdout (the journal under systemd); other commands keep stdout for output.
    stream = sys.stdout if args.command == "run" else sys.stderr
    configure_logging(
        level=settings.log.level, fmt=settings.log.format, secrets=secrets, stream=stream
    )
    handler: Command = args.handler
    try:
        return asyncio.run(handler(settings, args))
    except (PocketcodeError, EventStoreError) as exc:  # the database unreachable, say: words
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
