"""/cap from the chat: through the app (recording view, the fake claude) and its texts.

The fake claude charges about $0.097 for a plain turn (see tests/test_cost_cap.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actors.chat import texts
from actors.session import events as ev
from actors.session.budget import CostCap
from actors.session.state import load_state
from tests.app_kit import AppKit, open_app_kit

CHAT = 1


@pytest.fixture
async def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AppKit]:
    async with open_app_kit(tmp_path, monkeypatch) as kit:
        yield kit


async def test_without_a_session_it_offers_one(kit: AppKit) -> None:
    await kit.send("/cap 5")
    await kit.settle()
    assert kit.view.texts(CHAT)[-1].startswith("No active session.")


async def test_cap_shows_sets_and_removes_the_sessions_cap(kit: AppKit) -> None:
    await kit.send("/new work")
    await kit.send("/cap")
    assert await kit.said("work has spent") == (
        "work has spent $0.00; no cap. /cap N sets one, in dollars."
    )
    assert "Cost cap: none\n" in await kit.status()
    await kit.send("/cap 2.5")
    assert await kit.said("cost cap is now") == (
        "work's cost cap is now $2.50 ($0.00 spent so far, $2.50 left)."
    )
    assert (await kit.turn("hello")).text == "Echo: hello"
    assert "--max-budget-usd=2.5" in (await kit.argvs("work"))[-1]
    kit.view.shown.clear()
    await kit.send("/cap")
    assert await kit.said("work has spent") == (
        "work has spent $0.10 of its $2.50 cap; $2.40 left. /cap N changes it, /cap off removes it."
    )
    assert "Cost: $0.0973\nCost cap: $2.50 ($2.40 left), set with /cap\n" in await kit.status()
    await kit.send("/cap $3.00")
    await kit.said("work's cost cap is now $3.00")
    await kit.send("/cap off")
    assert await kit.said("no cost cap now") == "work has no cost cap now ($0.10 spent so far)."
    assert "Cost cap: none, removed with /cap\n" in await kit.status()
    assert (await kit.turn("again")).text == "Echo: again"
    budgets = [
        [a for a in argv if a.startswith("--max-budget-usd")] for argv in await kit.argvs("work")
    ]
    assert budgets == [["--max-budget-usd=2.5"], []], "the idle one stopped at /cap $3.00"
    assert kit.app is not None
    events = await kit.session_events("work")
    caps = [(e.correlation_id, e.data) for e in events if e.type == ev.COST_CAP_SET]
    assert caps == [
        ("upd-4", {"cap_usd": 2.5, "chat_id": 1}),
        ("upd-8", {"cap_usd": 3.0, "chat_id": 1}),
        ("upd-9", {"cap_usd": None, "chat_id": 1}),
    ]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/cap abc", "'abc' is not an amount in dollars: use /cap 5, /cap 2.50 or /cap off."),
        ("/cap 0", "A cost cap must be more than $0; /cap off removes the cap."),
        ("/cap -2", "A cost cap must be more than $0"),
        ("/cap 2.555", "'2.555' has more than 2 decimals: give dollars and cents."),
        ("/cap 20000", "A cost cap can be at most $10,000; /cap off for none."),
        ("/cap 1e9", "'1e9' is not an amount in dollars"),
        ("/cap 2 50", "Usage: /cap [DOLLARS|off] — show the active session's spend and cost cap"),
    ],
)
async def test_bad_amounts_get_one_clear_line(kit: AppKit, command: str, expected: str) -> None:
    await kit.send("/new work")
    answer = await kit.answer(command)
    assert expected in answer
    assert "\n" not in answer
    assert ev.COST_CAP_SET not in [e.type for e in await kit.session_events("work")]


async def test_a_reached_cap_keeps_the_reply_and_says_how_to_go_on(kit: AppKit) -> None:
    await kit.send("/new work")
    await kit.send("/cap 0.15")
    await kit.said("cost cap is now $0.15")
    assert (await kit.turn("hello")).text == "Echo: hello"
    capped = await kit.turn("again")
    assert capped.text == "Echo: again", "the reply written before the cap is kept"
    assert capped.footer is not None
    assert capped.footer.startswith(
        "⚠ work reached its $0.15 cost cap: claude stopped this turn after $0.19 spent in all. "
        "Raise it with /cap N (for example /cap 1) or remove it with /cap off.\n"
    )
    await kit.send("one more")
    assert await kit.said("not sent") == (
        "work has spent $0.19 of its $0.15 cost cap, so this message was not sent. "
        "Raise it with /cap N (for example /cap 1) or remove it with /cap off."
    )
    await kit.send("/cap")
    assert await kit.said("messages are refused") == (
        "work has spent $0.19 of its $0.15 cap: messages are refused until you raise it "
        "(/cap N) or remove it (/cap off)."
    )
    assert len(await kit.argvs("work")) == 1, "refused before claude started again"
    await kit.send("/cap 1")
    await kit.said("cost cap is now $1.00")
    assert (await kit.turn("one more")).text == "Echo: one more"
    assert "--max-budget-usd=0.8051" in (await kit.argvs("work"))[-1]


async def test_the_cap_survives_a_restart_of_pocketcode(kit: AppKit) -> None:
    await kit.send("/new work")
    await kit.turn("hello")
    await kit.send("/cap 3")
    await kit.said("cost cap is now $3.00")
    await kit.stop()
    kit.view.shown.clear()
    app = await kit.start()
    state = await load_state(app.store, "work")
    assert (state.cost_cap_usd, state.cost_cap_chosen) == (3.0, True)
    assert "Cost cap: $3.00 ($2.90 left), set with /cap" in await kit.status()
    await kit.turn("again")
    assert "--max-budget-usd=2.9026" in (await kit.argvs("work"))[-1]


def test_the_default_cap_is_named_as_the_configs() -> None:
    cap = CostCap("work", 0.4237, 5.0, default=True)
    assert texts.cost_cap(cap) == (
        "work has spent $0.42 of its $5.00 cap (the default, claude.max_cost_usd); $4.58 left. "
        "/cap N changes it, /cap off removes it."
    )
    assert texts.cap_summary(cap) == "$5.00 ($4.58 left), the default (claude.max_cost_usd)"
