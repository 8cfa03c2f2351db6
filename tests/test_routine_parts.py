"""The pure parts of routines: which queued messages a turn takes, how an answer is shown,
the list's buttons and their typed forms, the time zone in the config."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from actors.chat import routes
from actors.chat import routine_texts as rt
from actors.routines.messages import Listed
from actors.routines.state import Routine
from actors.session import notices as n
from actors.session.routine_runs import RoutineRun, next_batch
from actors.session.state import Queued
from service.config import load_settings
from service.errors import ConfigError
from service.terminal import button_command

RUN = RoutineRun("3", "routine 3 (0 8 * * *)", "2026-03-30T06:00:00+00:00", "Mon 30 Mar 08:00")
T0 = datetime(2026, 3, 27, 12, tzinfo=UTC)


def queued(text: str, run: RoutineRun | None = None) -> Queued:
    return Queued(text, None, 1, run)


def test_a_routine_run_is_a_turn_of_its_own_and_the_users_messages_go_together() -> None:
    a, b, r, c = queued("a"), queued("b"), queued("r", RUN), queued("c")
    assert next_batch((a, b, r, c)) == (a, b)
    assert next_batch((r, c)) == (r,)
    assert next_batch((c,)) == (c,)
    assert RoutineRun.from_data({**RUN.to_data(), "added_later": 1}) == RUN
    assert RoutineRun.from_data(None) is None


def finished(text: str, outcome: str = "completed", error: str | None = None) -> n.TurnFinished:
    return n.TurnFinished("work", "t1", outcome, text, 0.0, 0.0, error, RUN)


def test_an_ok_answer_is_one_silent_line_or_nothing_and_anything_else_a_reply() -> None:
    ok = rt.answer(finished("  OK all disks healthy\n\nsda 31°C, sdb 33°C"), RUN)
    assert ok == rt.Answer("⏰ routine 3 (0 8 * * *): OK all disks healthy", silent=True)
    bold = rt.answer(finished("**OK** — backup ran at 03:12"), RUN)
    assert bold.text == "⏰ routine 3 (0 8 * * *): OK — backup ran at 03:12"
    quiet = RoutineRun(**{**RUN.to_data(), "quiet": True})
    assert rt.answer(finished("OK."), quiet).text is None
    for problem in (finished("OKAY? no: sdb is failing"), finished("Disk sdb is failing")):
        shown = rt.answer(problem, quiet)
        assert (shown.text, shown.silent) == (problem.text, False)
        assert shown.header == r"⏰ routine 3 (0 8 \* \* \*)", "a cron's * stays a *"
    failed = rt.answer(finished("OK so far", "failed", "cost cap reached"), quiet)
    assert failed.text == "OK so far", "a turn that did not complete is never kept quiet"
    late = RoutineRun(**{**RUN.to_data(), "late": True})
    assert rt.answer(finished("broken"), late).header.endswith(
        "late: it was due Mon 30 Mar 08:00, when pocketcode was not running"
    )


def test_the_list_offers_run_pause_or_resume_and_delete_each_typed_as_routines() -> None:
    routine = Routine("3", "work", 1, "daily 08:00", "0 8 * * *", "Check.", True, False, T0, T0)
    berlin = datetime(2026, 3, 28, 8, tzinfo=ZoneInfo("Europe/Berlin"))
    text, keyboard = rt.listing([Listed(routine, berlin)])
    assert text == (
        "Routines here:\n3. work · daily 08:00 (At 08:00 every day) · next Sat 28 Mar 08:00 CET"
        " · quiet\n   Check."
    )
    [row] = keyboard
    assert [button_command(b) for b in row] == [
        "/routines run 3",
        "/routines pause 3",
        "/routines delete 3",
    ]
    assert {b.action for b in row} <= set(routes.BUTTONS)
    assert routes.typed_forms()["routine"] == "/routines"
    assert rt.recreate(routine) == "/every daily 08:00 --quiet Check."


def test_every_gets_what_was_typed_after_it_with_its_lines() -> None:
    assert routes.COMMANDS["every"].raw
    assert routes.args_as_typed("/every daily 08:00 Check:\n- disks\n- backups") == (
        "daily 08:00 Check:\n- disks\n- backups",
    )
    assert routes.args_as_typed("/every") == ()


def test_the_time_zone_is_an_iana_name(tmp_path: Path) -> None:
    settings = load_settings(None, env={"POCKETCODE_TIMEZONE": "Europe/Berlin"})
    assert settings.zone == ZoneInfo("Europe/Berlin")
    assert load_settings(None, env={}).timezone == "UTC"
    with pytest.raises(ConfigError, match="'Mars/Olympus' is not a time zone"):
        load_settings(None, env={"POCKETCODE_TIMEZONE": "Mars/Olympus"})
    cfg = tmp_path / "c.yaml"
    cfg.write_text("routines:\n  catch_up: twice\n")
    with pytest.raises(ConfigError, match=r"routines\.catch_up"):
        load_settings(cfg, env={})
