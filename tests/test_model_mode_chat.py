"""/model and /mode from the chat: through the app (recording view) and through real aiogram."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actors.chat.view import Button
from actors.session import events as ev
from actors.session.state import load_state
from service.telegram.view import pack_button
from tests.app_kit import AppKit, Shown, open_app_kit
from tests.e2e_kit import OWNER, Bot_, running_bot

CHAT = 1


@pytest.fixture
async def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AppKit]:
    async with open_app_kit(tmp_path, monkeypatch) as kit:
        yield kit


def buttons(shown: Shown) -> list[Button]:
    return [b for row in shown.buttons for b in row]


async def test_without_a_session_it_offers_one(kit: AppKit) -> None:
    await kit.send("/model sonnet")
    await kit.settle()
    assert kit.view.texts(CHAT)[-1].startswith("No active session.")


async def test_model_shows_the_choices_and_a_button_switches(kit: AppKit) -> None:
    await kit.send("/new work")
    await kit.send("/model")
    await kit.settle()
    menu = kit.view.of(CHAT, "say")[-1]
    assert menu.text.startswith("Model of work: the persona's (claude reports it once it starts)\n")
    assert [(b.label, b.action, b.arg) for b in buttons(menu)] == [
        ("opus", "model", "opus"),
        ("sonnet", "model", "sonnet"),
        ("haiku", "model", "haiku"),
        ("default", "model", "default"),
    ]
    await kit.press("model", "haiku", handle=menu.handle)
    await kit.said("work will use model haiku from your next message")
    [closed] = kit.view.of(CHAT, "closed")
    assert (closed.handle, closed.text) == (menu.handle, "work: haiku chosen.")
    await kit.send("/model")
    await kit.settle()
    again = kit.view.of(CHAT, "say")[-1]
    assert "✓ haiku" in [b.label for b in buttons(again)]


async def test_a_switch_shows_in_status_before_and_after_the_next_turn(kit: AppKit) -> None:
    await kit.send("/new work")
    await kit.turn("hello")
    assert "Model: claude-sonnet-5\nPermission mode: default\n" in await kit.status()
    await kit.send("/model Opus")
    await kit.said("work now uses model opus.")
    await kit.send("/mode accept-edits")
    await kit.said("work now uses permission mode acceptEdits.")
    kit.view.shown.clear()
    shown = await kit.status()
    assert "Model: opus, set with /model\nPermission mode: acceptEdits, set with /mode" in shown
    assert (await kit.turn("again")).text == "Echo: again"
    kit.view.shown.clear()
    shown = await kit.status()
    assert "Model: opus (claude-opus-4-8), set with /model\n" in shown
    assert "Permission mode: acceptEdits, set with /mode\n" in shown


async def test_mode_offers_the_safe_modes_as_buttons(kit: AppKit) -> None:
    await kit.send("/new work")
    await kit.turn("hello")
    await kit.send("/mode")
    await kit.settle()
    menu = kit.view.of(CHAT, "say")[-1]
    assert menu.text.startswith("Permission mode of work: default\n")
    assert "/mode bypassPermissions never asks" in menu.text
    assert [(b.label, b.arg) for b in buttons(menu)] == [
        ("✓ default", "default"),
        ("acceptEdits", "acceptEdits"),
        ("plan", "plan"),
    ]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/model sonet", "'sonet' is not a model: use opus, sonnet, haiku, default or a full"),
        ("/model claude sonnet", "Usage: /model [NAME] — show or switch the active session's"),
        ("/model a\x01b", "'a\\x01b' is not a model"),
        ("/model claude-" + "x" * 150, "is too long for a model name (157 characters"),
        ("/mode yolo", "'yolo' is not a permission mode: use one of default, acceptEdits"),
        ("/mode plan now", "Usage: /mode [MODE]"),
    ],
)
async def test_bad_arguments_get_one_clear_line(kit: AppKit, command: str, expected: str) -> None:
    await kit.send("/new work")
    answer = await kit.answer(command)
    assert expected in answer
    assert "\n" not in answer
    assert ev.SETTING_REQUESTED not in [e.type for e in await kit.session_events("work")]


async def test_a_refusal_by_claude_is_told_in_plain_words(kit: AppKit) -> None:
    await kit.send("/new work")
    await kit.turn("hello")
    await kit.send("/mode bypassPermissions")
    text = await kit.said("did not switch")
    assert text.startswith(
        "work did not switch to permission mode bypassPermissions: claude allows "
        "bypassPermissions only in a process started in that mode"
    )
    assert "Permission mode: default\n" in await kit.status()


async def test_the_choice_survives_a_restart_of_pocketcode(kit: AppKit) -> None:
    await kit.send("/new work")
    await kit.turn("hello")
    await kit.send("/model haiku")
    await kit.send("/mode plan")
    await kit.said("permission mode plan")
    await kit.stop()
    kit.view.shown.clear()
    app = await kit.start()
    state = await load_state(app.store, "work")
    assert (state.model_override, state.mode_override) == ("haiku", "plan")
    assert (await kit.turn("again")).text == "Echo: again"
    argvs = [
        e.data["argv"]
        for e in await app.store.read_stream(ev.stream_of("work"))
        if e.type == ev.PROCESS_STARTED
    ]
    assert len(argvs) == 2
    assert {"--model=haiku", "--permission-mode=plan"} <= set(argvs[-1])
    assert "Model: haiku (claude-haiku-4-5-20251001), set with /model" in await kit.status()


# -- through real aiogram and the Bot API stand-in ------------------------------------------


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot_]:
    async with running_bot(tmp_path) as running:
        yield running


async def test_the_model_menu_works_in_telegram(bot: Bot_) -> None:
    bot.say("/new work")
    await bot.wait_text("Created work")
    bot.say("/model")
    menu = await bot.wait_message("Model of work")
    assert menu.reply_markup is not None
    data = [b["callback_data"] for row in menu.reply_markup["inline_keyboard"] for b in row]
    haiku = pack_button(Button("haiku", "model", "haiku"))
    assert haiku in data
    bot.api.push_callback(OWNER, OWNER, menu.message_id, haiku)
    await bot.wait_text("work will use model haiku from your next message")
    await bot.wait_text("work: haiku chosen.")
    closed = next(m for m in bot.api.bot_messages(OWNER) if m.message_id == menu.message_id)
    assert not closed.reply_markup or not closed.reply_markup.get("inline_keyboard")
    bot.say("hi")
    await bot.wait_text("Echo: hi")
    bot.say("/status")
    shown = await bot.wait_text("Session:")
    assert "Model: haiku (claude-haiku-4-5-20251001), set with /model" in shown
