"""Live state is exactly the fold of the log: the check every actor-level test ends with.

The kits (``AppKit``, ``open_session_kit``) call ``compare`` before they stop their actors
(at the end of every test, and at every simulated restart); the autouse fixture
``log_truth_checked`` in conftest fails a test whose kit stopped without comparing.
"""

from __future__ import annotations

from typing import Any

from actors.chat.actor import ChatActor
from actors.routines import state as routines
from actors.routines.actor import SchedulerActor
from actors.runtime import ActorSystem
from actors.runtime.testkit import run_until_idle
from actors.session.actor import SessionActor
from actors.session.state import load_state

#: Systems created by kits in the running test, and whether each was compared.
created: dict[int, bool] = {}


def track(system: ActorSystem) -> None:
    created[id(system)] = False


async def compare(system: ActorSystem) -> None:
    """Every running chat and session actor's state equals the fold of its own stream."""
    created[id(system)] = True
    await run_until_idle(system)
    for cell in list(system.cells.values()):
        actor = cell.actor
        if cell.stopped or actor is None:
            continue
        for _ in range(50):  # a process may still be writing: compare at a quiet moment
            live = actor.state  # type: ignore[attr-defined]
            rebuilt = await _rebuilt(actor)
            if rebuilt is None or rebuilt.version == actor.state.version == live.version:  # type: ignore[attr-defined]
                break
        assert rebuilt is None or live == rebuilt, (
            f"{cell.name}: live state is not the fold of its log\n"
            f" live:    {live}\n rebuilt: {rebuilt}"
        )


async def _rebuilt(actor: Any) -> Any:
    if isinstance(actor, SessionActor):
        return await load_state(actor.deps.store, actor.name)
    if isinstance(actor, ChatActor):
        return await actor.rebuilt_state()
    if isinstance(actor, SchedulerActor):
        return await routines.load_state(actor.deps.store)
    return None
