"""The chat's router tables and the wording moved out of the chat actor: pure, tested directly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from actors.chat import questions as q
from actors.chat import routes, texts
from actors.chat.view import Keyboard
from actors.session import events as sev
from actors.session import notices as n
from actors.session.catalog import SessionSummary
from actors.session.state import SessionState
from personas.catalog import Persona, PersonaCatalog, PersonaProblem

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def actions(keyboard: Keyboard) -> set[str]:
    return {b.action for row in keyboard for b in row}


def test_the_menu_help_and_typed_buttons_come_from_the_one_table() -> None:
    assert set(routes.SPECS) == set(routes.COMMANDS)
    help_lines = routes.help_text().splitlines()
    assert len(help_lines) == len(routes.COMMANDS)
    assert {name for name, _ in routes.menu()} < set(routes.COMMANDS)
    assert routes.typed_forms()["switch"] == "/session"
    assert routes.typed_forms()["allow_session"] == "/allowall"
    assert set(routes.typed_forms()) <= set(routes.BUTTONS), "every typed form is a button"


def test_every_button_the_chat_offers_has_a_handler() -> None:
    sessions = [
        SessionSummary("a", "default", "/a", 1, "active", T0, T0),
        SessionSummary("b", "default", "/b", 1, "archived", T0, T0),
    ]
    offered = actions(texts.session_list("t", sessions, "a", more_archived=True)[1])
    for setting in (sev.MODEL, sev.PERMISSION_MODE):
        offered |= actions(texts.setting_menu(SessionState(name="a"), setting)[1])
    ask = {"questions": [{"question": "Which?", "options": [{"label": "x"}]}]}
    for tool, tool_input in (("Bash", {}), (q.ASK, ask), (q.PLAN, {"plan": "p"})):
        asked = n.PermissionAsked("work", "r1", tool, "Bash: ls", tool_input, scope="command")
        offered |= actions(q.render(asked).buttons)
    assert offered == {
        "switch",
        "new",
        "list",
        "model",
        "mode",
        "allow",
        "allow_session",
        "deny",
        "answer",
    }
    assert offered <= set(routes.BUTTONS)


def finished(
    outcome: str = "completed",
    error: str | None = None,
    turn_cost_usd: float = 0.0,
    cost_usd: float = 0.0,
) -> n.TurnFinished:
    return n.TurnFinished("work", "t1", outcome, "hi", cost_usd, turn_cost_usd, error)


def test_a_plain_free_turn_has_no_footer() -> None:
    assert texts.reply_footer(finished()) is None


def test_the_footer_says_how_a_turn_ended_and_what_it_cost() -> None:
    msg = finished(outcome="interrupted", error="boom", turn_cost_usd=0.01234, cost_usd=1.5)
    assert texts.reply_footer(msg) == "⏹ Stopped.\n⚠ boom\n$0.0123 this turn · $1.50 in work"


def test_an_upload_tells_the_agent_where_the_file_is_and_keeps_the_caption() -> None:
    bare = texts.uploaded("uploads/a.txt", 1234, "  ")
    assert bare == "I uploaded a file: uploads/a.txt (1,234 bytes), in your working directory."
    assert texts.uploaded("uploads/a.txt", 1234, "read it") == bare + "\n\nread it"


def test_a_refused_file_names_its_size_only_when_known() -> None:
    limit = 20 * 1_048_576
    assert texts.file_refused("big.zip", 0, limit) == (
        "big.zip was not saved: files over 20 MB are refused (bots can download at most 20 MB)."
    )
    assert texts.file_refused("big.zip", 31_457_280, limit).startswith("big.zip (30.0 MB) was")


def test_personas_list_each_one_then_the_problems() -> None:
    catalog = PersonaCatalog(
        personas={"dev": Persona(name="dev", description="codes", model="opus")},
        problems=[PersonaProblem(Path("bad.yaml"), "model", "unknown")],
    )
    assert texts.personas(catalog) == (
        "dev — codes (opus, default)\n⚠ bad.yaml (field 'model'): unknown"
    )
    assert texts.personas(PersonaCatalog()) == "No personas are configured."
