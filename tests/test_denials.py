"""Strangers cannot grow the log without bound: a few denials per sender per hour are recorded,
the rest counted and the count recorded with the next one; what they wrote never goes to a
warning line."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from actors.chat import state as cs
from service.telegram.denials import DenialLimiter
from tests.e2e_kit import OWNER, STRANGER, running_bot
from tests.fakes.botapi import ManualClock

OTHER_STRANGER = 667


def test_a_few_per_sender_per_window_then_counted() -> None:
    clock = ManualClock()
    limiter = DenialLimiter(per_window=3, window_s=3600, now=clock)
    assert [limiter.admit(1) for _ in range(5)] == [0, 0, 0, None, None]
    assert limiter.admit(2) == 0, "each sender has a budget of its own"
    clock.advance(3599)
    assert limiter.admit(1) is None
    clock.advance(1)
    assert limiter.admit(1) == 3, "the next one recorded carries the count of the dropped ones"
    assert [limiter.admit(1) for _ in range(3)] == [0, 0, None]


def test_it_remembers_a_bounded_number_of_senders() -> None:
    limiter = DenialLimiter(per_window=1, max_senders=2, now=ManualClock())
    assert [limiter.admit(s) for s in (1, 2, 1, 3)] == [0, 0, None, 0]
    assert len(limiter._senders) == 2
    assert limiter.admit(2) == 0, "the sender quiet the longest was forgotten first"


async def test_a_flooding_stranger_is_recorded_a_few_times_an_hour(tmp_path: Path) -> None:
    clock = ManualClock()
    limiter = DenialLimiter(per_window=5, window_s=3600, now=clock)
    with capture_logs() as logs:
        async with running_bot(tmp_path, denials=limiter) as bot:
            for n in range(40):
                bot.say(f"let me in {n} " + "x" * 300, chat_id=STRANGER, user_id=STRANGER)
            bot.say("me too", chat_id=OTHER_STRANGER, user_id=OTHER_STRANGER)
            bot.say("/help")
            await bot.wait_text("/new")  # every update before it was handled
            clock.advance(3600)
            bot.say("still here", chat_id=STRANGER, user_id=STRANGER)
            bot.say("/help")
            await bot.api.wait_for(lambda: len(bot.texts(OWNER)) >= 2, 20)
            events = [e async for e in bot.app.store.read_all(stream_prefix="access:")]
    assert {e.type for e in events} == {cs.ACCESS_DENIED}
    denied = [e.data for e in events]
    assert [(d["user_id"], d.get("dropped_before", 0)) for d in denied] == [
        *[(STRANGER, 0)] * 5,
        (OTHER_STRANGER, 0),
        (STRANGER, 35),
    ]
    assert denied[0]["text"] == ("let me in 0 " + "x" * 300)[:200]
    lines = [e for e in logs if e["event"] == "access.denied"]
    assert len(lines) == 7
    assert all("text" not in e and "let me in" not in repr(e) for e in lines)
