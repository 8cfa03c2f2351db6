"""Chat actors end to end through the app: commands, sessions, replies, questions, restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actors.chat import routes
from actors.chat.inbound import Incoming
from tests.app_kit import AppKit, open_app_kit

CHAT = 1


@pytest.fixture
async def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AppKit]:
    async with open_app_kit(tmp_path, monkeypatch) as kit:
        yield kit


async def restart(kit: AppKit) -> None:
    """Stop the app and start it again on the same log, with a fresh view."""
    await kit.stop()
    kit.view.shown.clear()
    await kit.start()
    await kit.settle()


async def log_unhandled(kit: AppKit, update_id: int, **record: object) -> None:
    """Log an update as the intake does, as if the bot died before the chat actor saw it."""
    from actors.chat.inbound import RECEIVED, update_stream
    from eventstore import NewEvent

    assert kit.app is not None
    data = {"chat_id": CHAT, "update_id": update_id, "user_id": 7, **record}
    event = NewEvent(RECEIVED, data, correlation_id=f"upd-{update_id}")
    await kit.app.store.append(update_stream(f"upd-{update_id}"), [event])


async def test_message_without_a_session_offers_to_create_or_pick(kit: AppKit) -> None:
    await kit.send("hello?")
    await kit.settle()
    [offer] = kit.view.of(CHAT, "say")
    assert offer.text.startswith("No active session")
    actions = [b.action for row in offer.buttons for b in row]
    assert actions == ["new"]
    assert offer.buttons[0][0].arg == "main"


async def test_new_session_then_a_message_streams_a_reply(kit: AppKit) -> None:
    await kit.send("/new work")
    await kit.settle()
    assert "Created work (persona default" in kit.view.texts(CHAT)[0]
    await kit.send("hello there")
    [done] = await kit.view.wait_count(CHAT, "done", 1)
    assert done.text == "Echo: hello there"
    assert done.footer is not None
    assert "this turn" in done.footer
    kinds = [s.kind for s in kit.view.shown[CHAT]]
    assert kinds.index("typing") < kinds.index("progress") < kinds.index("done")
    assert kit.view.of(CHAT, "progress")[0].text == "", "an immediate Thinking… placeholder"
    assert kit.view.texts(CHAT, "typing")[-1] == "off"


async def test_button_creates_the_suggested_session(kit: AppKit) -> None:
    await kit.press("new", "main")
    await kit.settle()
    assert kit.view.texts(CHAT)[-1].startswith("Created main")


async def test_session_list_and_switch(kit: AppKit) -> None:
    await kit.send("/new alpha")
    await kit.send("/new beta homelab")
    await kit.send("/session")
    await kit.settle()
    listing = kit.view.of(CHAT, "say")[-1]
    assert "✓ beta (homelab)" in listing.text
    switch = [b.arg for row in listing.buttons for b in row if b.action == "switch"]
    assert sorted(switch) == ["alpha", "beta"]
    await kit.press("switch", "alpha")
    await kit.settle()
    assert kit.view.texts(CHAT)[-1] == "Switched to alpha (default)."
    await kit.send("/status")
    await kit.settle()
    assert "Session: alpha (active)" in kit.view.texts(CHAT)[-1]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/frobnicate", "Unknown command /frobnicate. Try /help for the list."),
        ("/new", "Usage: /new NAME [PERSONA]"),
        ("/new a b c", "Usage: /new NAME [PERSONA]"),
        ("/new ../etc", "is not a valid session name"),
        ("/new Work", "is not a valid session name"),
        ("/new ok nosuchpersona", "nosuchpersona"),
        ("/session ghost", "There is no session named ghost"),
        ("/archive ghost", "There is no session named ghost"),
    ],
)
async def test_bad_input_gets_one_clear_line(kit: AppKit, command: str, expected: str) -> None:
    await kit.send(command)
    await kit.settle()
    [answer] = kit.view.texts(CHAT)
    assert expected in answer
    assert "Traceback" not in answer


async def test_duplicate_session_name_is_refused(kit: AppKit) -> None:
    await kit.send("/new work")
    await kit.send("/new work")
    await kit.settle()
    assert kit.view.texts(CHAT)[-1] == "A session named work already exists."


async def test_permission_question_answered_by_button(kit: AppKit) -> None:
    await kit.send("/new work")
    await kit.send("[[tool:Bash:ls -la]] look around")
    [question] = await kit.view.wait_for(
        lambda: [s for s in kit.view.of(CHAT, "say") if s.buttons and "🔐" in s.text]
    )
    assert "wants to run this command" in question.text
    assert question.verbatim == "ls -la"
    actions = [b.action for row in question.buttons for b in row]
    assert actions == ["allow", "deny", "allow_session"]
    await kit.press("allow", question.buttons[0][0].arg, handle=question.handle)
    [done] = await kit.view.wait_count(CHAT, "done", 1)
    assert done.text == "Tool said: Bash ok: ls -la"
    [closed] = await kit.view.wait_count(CHAT, "closed", 1)
    assert closed.handle == question.handle
    assert closed.text == "✅ Allowed: Bash: ls -la"


async def test_stop_interrupts_the_active_turn(kit: AppKit) -> None:
    await kit.send("/new work")
    await kit.send("[[slow:50]] [[long:3000]] go")
    await kit.view.wait_for(lambda: any(p.text for p in kit.view.of(CHAT, "progress")))
    await kit.send("/stop")
    [done] = await kit.view.wait_count(CHAT, "done", 1)
    assert done.footer is not None
    assert "⏹ Stopped." in done.footer


async def test_message_during_a_turn_is_queued_and_answered_after(kit: AppKit) -> None:
    await kit.send("/new work")
    await kit.send("[[slow:30]] [[long:600]] first")
    await kit.view.wait_for(lambda: any(p.text for p in kit.view.of(CHAT, "progress")))
    await kit.send("second")
    done = await kit.view.wait_count(CHAT, "done", 2)
    assert done[1].text == "Echo: second"
    assert any(t.startswith("Queued:") for t in kit.view.texts(CHAT))


async def test_archive_and_unarchive(kit: AppKit) -> None:
    await kit.send("/new alpha")
    await kit.send("/new beta")
    await kit.send("hi")
    await kit.view.wait_count(CHAT, "done", 1)
    await kit.send("/archive beta")
    await kit.settle()
    text = kit.view.texts(CHAT)[-1]
    assert text.startswith("Archived beta to ")
    assert text.endswith("Active session is now alpha.")
    archive = Path(text.removeprefix("Archived beta to ").split(".tar.gz")[0] + ".tar.gz")
    assert archive.exists()
    await kit.send("/session")
    await kit.settle()
    listing = kit.view.of(CHAT, "say")[-1]
    assert "beta" not in [b.arg for row in listing.buttons for b in row if b.action == "switch"]
    await kit.send("/unarchive beta")
    await kit.settle()
    assert kit.view.texts(CHAT)[-1] == "beta is back and active."


async def test_restart_rebuilds_sessions_and_the_active_one(kit: AppKit) -> None:
    await kit.send("/new alpha")
    await kit.send("/new beta")
    await kit.send("/session alpha")
    await kit.settle()
    await restart(kit)
    await kit.send("/status")
    await kit.settle()
    assert "Session: alpha (active)" in kit.view.texts(CHAT)[-1]


async def test_update_logged_but_not_handled_is_handled_after_restart(kit: AppKit) -> None:
    assert kit.app is not None
    await kit.send("/new work")
    await kit.settle()
    await log_unhandled(kit, 99, kind="text", text="/status")
    await restart(kit)
    assert sum(t.startswith("Session: work") for t in kit.view.texts(CHAT)) == 1
    assert kit.app is not None
    await kit.app.deliver(CHAT, Incoming(7, "/status", "upd-99"))  # Telegram delivers it again
    await kit.send("/help")  # a lower update id never logged: new, not a duplicate
    await kit.settle()
    assert any(t.startswith("/start") for t in kit.view.texts(CHAT)), "handled, out of order"
    assert sum(t.startswith("Session: work") for t in kit.view.texts(CHAT)) == 1, "once"


def test_help_lists_every_command() -> None:
    text = routes.help_text()
    for name in routes.SPECS:
        assert f"/{name}" in text


async def test_a_reply_the_crash_kept_from_the_chat_is_delivered_once(kit: AppKit) -> None:
    """The turn ended in the log but pocketcode died before the chat showed it."""
    from actors.session import events as ev
    from eventstore import NewEvent

    assert kit.app is not None
    await kit.send("/new work")
    await kit.settle()
    await kit.app.sessions.stop("work")  # the log as that run left it: written by the session
    await kit.app.store.append(
        ev.stream_of("work"),
        [
            NewEvent(ev.MESSAGE_QUEUED, {"text": "hi"}),
            NewEvent(ev.TURN_STARTED, {"turn_id": "t-lost", "text": "hi", "merged": 1}),
            NewEvent(
                ev.STDOUT,
                {
                    "line": {
                        "type": "result",
                        "subtype": "success",
                        "is_error": False,
                        "result": "the lost answer",
                        "total_cost_usd": 0.25,
                    }
                },
            ),
            NewEvent(ev.TURN_ENDED, {"turn_id": "t-lost", "outcome": "completed"}),
        ],
    )
    for attempt in range(2):
        await restart(kit)
        done = kit.view.of(CHAT, "done")
        if attempt == 0:
            assert [d.text for d in done] == ["the lost answer"]
            assert done[0].footer is not None
            assert "$0.2500 this turn" in done[0].footer
        else:
            assert done == [], "delivered once, not at every restart"


async def test_the_agents_question_is_answered_with_buttons(kit: AppKit) -> None:
    await kit.send("/new work")
    await kit.send("[[tool:AskUserQuestion:Which database?|SQLite|Postgres]] set up storage")
    [asked] = await kit.view.wait_for(
        lambda: [s for s in kit.view.of(CHAT, "say") if s.text.startswith("❓")]
    )
    assert "Which database?" in asked.text
    labels = [b.label for row in asked.buttons for b in row]
    assert labels == ["SQLite", "Postgres", "Skip the question"]
    postgres = asked.buttons[1][0]
    await kit.press(postgres.action, postgres.arg, handle=asked.handle)
    [done] = await kit.view.wait_count(CHAT, "done", 1)
    assert done.text == "Tool said: AskUserQuestion ok: Which database? -> Postgres"
    [closed] = await kit.view.wait_count(CHAT, "closed", 1)
    assert closed.text == "❓ Which database? → Postgres"


@pytest.mark.parametrize(
    ("choice", "closed_text"), [(0, "📋 Plan approved."), (1, "📋 Kept planning.")]
)
async def test_a_plan_is_approved_or_sent_back_with_buttons(
    kit: AppKit, choice: int, closed_text: str
) -> None:
    await kit.send("/new work")
    await kit.send("[[tool:ExitPlanMode:1. read the code 2. fix the bug]] plan it")
    [plan] = await kit.view.wait_for(
        lambda: [s for s in kit.view.of(CHAT, "say") if "plan:" in s.text]
    )
    assert "1. read the code 2. fix the bug" in plan.text
    button = plan.buttons[0][choice]
    await kit.press(button.action, button.arg, handle=plan.handle)
    [closed] = await kit.view.wait_count(CHAT, "closed", 1)
    assert closed.text == closed_text
    await kit.view.wait_count(CHAT, "done", 1)
    if choice == 1:
        assert kit.app is not None
        from actors.session import events as ev

        answers = [
            e.data["line"]
            for e in await kit.session_events("work")
            if e.type == ev.STDIN and e.data["line"]["type"] == "control_response"
        ]
        assert answers[0]["response"]["response"]["message"].startswith("The user wants to keep")


async def test_an_uploaded_file_is_saved_safely_and_the_agent_told(kit: AppKit) -> None:
    from actors.chat.inbound import FileArrived, FileRefused

    assert kit.app is not None
    await kit.send("/new work")
    await kit.settle()
    await kit.app.deliver(
        CHAT, FileArrived(7, "../../etc/pass\x00wd.txt", b"secret?", "look at this", "upd-50")
    )
    [done] = await kit.view.wait_count(CHAT, "done", 1)
    summary = kit.app.catalog.get("work")
    assert summary is not None
    saved = list((Path(summary.cwd) / "uploads").iterdir())
    assert [p.read_bytes() for p in saved] == [b"secret?"]
    assert saved[0].name == "passwd.txt"
    assert done.text.startswith("Echo: I uploaded a file: uploads/passwd.txt (7 bytes)")
    assert done.text.endswith("look at this")
    await kit.app.deliver(CHAT, FileRefused(7, "huge.iso", 50 * 2**20, 20 * 2**20, "upd-51"))
    await kit.settle()
    assert kit.view.texts(CHAT)[-1].startswith("huge.iso (50.0 MB) was not saved")


async def test_switching_sessions_keeps_the_other_process_alive(kit: AppKit) -> None:
    from actors.session import events as ev

    assert kit.app is not None
    await kit.send("/new alpha")
    await kit.send("one")
    await kit.view.wait_count(CHAT, "done", 1)
    await kit.send("/new beta")
    await kit.send("two")
    await kit.view.wait_count(CHAT, "done", 2)
    await kit.send("/session alpha")
    await kit.send("three")
    await kit.view.wait_count(CHAT, "done", 3)
    alpha = [e.type for e in await kit.session_events("alpha")]
    assert alpha.count(ev.PROCESS_STARTED) == 1, "alpha's claude lived through the switches"
    assert ev.PROCESS_EXITED not in alpha


UNICODE_SAMPLER = (
    "RTL \u202eevil\u202c · ZWJ 👩‍👩‍👧 · combining e\u0301\u0308 · CJK 漢字 · astral 𝔘𝔫𝔦 · "
    "NUL-free controls \x07\x1b[31m · BOM \ufeff · private use \ue000 · noncharacter \ufffe"
)


@pytest.mark.parametrize(
    "text", [UNICODE_SAMPLER, "x" * 100_000, "<b>&amp;</b> **not html** `code`"]
)
async def test_any_message_text_reaches_the_agent_whole(kit: AppKit, text: str) -> None:
    assert kit.app is not None
    await kit.send("/new work")
    await kit.send(text)
    [done] = await kit.view.wait_count(CHAT, "done", 1)
    assert done.text == f"Echo: {text}"
    from actors.session import events as ev

    [queued] = [
        e.data["text"] for e in await kit.session_events("work") if e.type == ev.MESSAGE_QUEUED
    ]
    assert queued == text


async def test_an_empty_message_is_refused_in_words(kit: AppKit) -> None:
    await kit.send("/new work")
    await kit.send("   ")
    await kit.settle()
    assert kit.view.texts(CHAT)[-1] == "That message is empty; nothing was sent."


async def test_the_data_directory_is_owner_only(kit: AppKit) -> None:
    assert kit.app is not None
    settings = kit.app.settings
    for path in (
        settings.data_dir,
        settings.db_path.parent,
        settings.sessions_dir,
        settings.archive_dir,
    ):
        assert path.stat().st_mode & 0o777 == 0o700, path
    assert settings.db_path.stat().st_mode & 0o777 == 0o600


async def test_a_file_logged_but_not_saved_before_a_crash_is_asked_for_again(kit: AppKit) -> None:
    await kit.send("/new work")
    await kit.settle()
    await log_unhandled(kit, 77, kind="file", filename="notes.pdf", size=10, caption="")
    await restart(kit)
    assert kit.view.texts(CHAT) == [
        "notes.pdf arrived just before pocketcode restarted and was not saved; "
        "please send it again."
    ]
