"""A routine end to end through real aiogram and the Bot API stand-in: made in the chat, run
when the (fake) clock says so, its reply in the chat; an OK answer arrives without a sound."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from actors.runtime.testkit import FakeClock, run_until_idle
from tests.e2e_kit import OWNER, Bot_, running_bot

START = datetime(2026, 1, 1, tzinfo=UTC)  # a Thursday; the config's time zone: UTC


async def until(bot: Bot_, clock: FakeClock, when: datetime) -> None:
    while (left := (when - clock.now()).total_seconds()) > 0:
        await clock.advance(min(left, 3600))
        await run_until_idle(bot.app.system)


def sent_with(bot: Bot_, needle: str) -> dict[str, object]:
    """The sendMessage call whose text holds ``needle``."""
    return next(p for p in bot.api.calls_of("sendMessage") if needle in str(p.get("text")))


async def test_a_routine_made_in_the_chat_runs_and_its_reply_arrives(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with running_bot(tmp_path, app_clock=clock) as bot:
        bot.say("/new work")
        await bot.wait_text("Created work")
        bot.say("/every daily 08:00 Check the disks. [[say:sdb has 12 reallocated sectors]]")
        made = await bot.wait_message("Routine 1 runs in work")
        assert made.text is not None
        assert made.text.startswith(
            "Routine 1 runs in work: At 08:00 every day, next Thu 01 Jan 08:00 UTC."
        )
        bot.say("/every daily 08:00 [[say:OK: backups ran at 03:00]]")
        await bot.wait_text("Routine 2 runs in work")
        await until(bot, clock, START.replace(hour=8))
        problem = await bot.wait_text("⏰ routine 1")
        assert problem.startswith("⏰ routine 1 (daily 08:00)\n\nsdb has 12 reallocated sectors")
        assert not sent_with(bot, "⏰ routine 1").get("disable_notification")
        ok = await bot.wait_text("⏰ routine 2")
        assert ok == "⏰ routine 2 (daily 08:00): OK: backups ran at 03:00"
        assert sent_with(bot, "⏰ routine 2")["disable_notification"] is True
        # Run now, by its button under the message that made it.
        assert made.reply_markup is not None
        buttons = [b for row in made.reply_markup["inline_keyboard"] for b in row]
        run = next(b for b in buttons if b["text"] == "▶ Run 1 now")
        bot.api.push_callback(OWNER, OWNER, made.message_id, run["callback_data"])
        await bot.wait_text("run by hand")
        by_hand = [t for t in bot.texts() if "⏰ routine 1" in t]
        assert by_hand[-1].startswith("⏰ routine 1 (daily 08:00), run by hand\n\nsdb has 12")
