"""The actor runtime, driven deterministically: fake clock, sequential ids, run-until-idle."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from actors.runtime import (
    Actor,
    ActorDeadError,
    ActorSystem,
    AskTimeoutError,
    Registry,
    RestartPolicy,
)
from actors.runtime.testkit import FakeClock, SequentialIds, run_until_idle


@dataclass
class Journal:
    """Outside-the-actor record, so tests can see across restarts."""

    handled: list[Any] = field(default_factory=list)
    starts: int = 0
    stops: int = 0


class Recorder(Actor[Any]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.count = 0

    async def on_start(self) -> None:
        self.journal.starts += 1

    async def on_stop(self) -> None:
        self.journal.stops += 1

    async def receive(self, message: Any) -> Any:
        if message == "boom":
            raise RuntimeError("boom")
        if message == "slow":
            await self.ctx.clock.sleep(100)
        if message == "count":
            return self.count
        self.count += 1
        self.journal.handled.append(message)
        return f"ok:{message}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def system(clock: FakeClock) -> ActorSystem:
    return ActorSystem(clock=clock, ids=SequentialIds())


async def test_messages_are_handled_one_at_a_time_in_order(system: ActorSystem) -> None:
    journal = Journal()
    ref = system.spawn(lambda: Recorder(journal), "rec")
    for i in range(100):
        ref.tell(i)
    await run_until_idle(system)
    assert journal.handled == list(range(100))


async def test_ask_returns_the_reply_and_errors_go_to_the_asker(system: ActorSystem) -> None:
    journal = Journal()
    ref = system.spawn(lambda: Recorder(journal), "rec")
    assert await ref.ask("a") == "ok:a"
    with pytest.raises(RuntimeError, match="boom"):
        await ref.ask("boom")
    assert journal.starts == 1, "an ask error is the asker's, not a crash"
    assert await ref.ask("count") == 1


async def test_ask_times_out_on_the_injected_clock(system: ActorSystem) -> None:
    journal = Journal()
    ref = system.spawn(lambda: Recorder(journal), "rec")
    ref.tell("slow")
    with pytest.raises(AskTimeoutError, match="did not answer"):
        await ref.ask("a", timeout=0.01)


async def test_failed_tell_restarts_with_fresh_state_after_backoff(
    system: ActorSystem, clock: FakeClock
) -> None:
    failures: list[tuple[str, str, bool]] = []

    async def on_failure(name: str, exc: BaseException, escalated: bool) -> None:
        failures.append((name, str(exc), escalated))

    system.on_failure = on_failure
    journal = Journal()
    ref = system.spawn(lambda: Recorder(journal), "rec")
    ref.tell("x")
    ref.tell("boom")
    ref.tell("y")
    await run_until_idle(system)
    assert journal.handled == ["x"], "the restart waits for its backoff"
    await clock.advance(0.1)
    await run_until_idle(system)
    assert journal.handled == ["x", "y"]
    assert journal.starts == 2
    assert failures == [("rec", "boom", False)]
    assert await ref.ask("count") == 1, "state is fresh after a restart"


async def test_repeated_failure_escalates_instead_of_looping(
    system: ActorSystem, clock: FakeClock
) -> None:
    journal = Journal()
    ref = system.spawn(
        lambda: Recorder(journal),
        "rec",
        policy=RestartPolicy(max_restarts=2, within_s=60, backoff_initial_s=1, backoff_max_s=2),
    )
    for _ in range(5):
        ref.tell("boom")
    for _ in range(4):
        await run_until_idle(system)
        await clock.advance(2)
    await run_until_idle(system)
    assert not ref.alive
    assert [name for name, _ in system.escalations] == ["rec"]
    assert journal.starts == 3
    with pytest.raises(ActorDeadError):
        await ref.ask("count")


async def test_backoff_grows_and_is_bounded(system: ActorSystem, clock: FakeClock) -> None:
    journal = Journal()
    ref = system.spawn(
        lambda: Recorder(journal),
        "rec",
        policy=RestartPolicy(max_restarts=10, within_s=1000, backoff_initial_s=1, backoff_max_s=3),
    )
    restarted_at = []
    for _ in range(4):
        ref.tell("boom")
        await run_until_idle(system)
        before = journal.starts
        waited = 0
        while journal.starts == before:
            await clock.advance(1)
            waited += 1
            await run_until_idle(system)
        restarted_at.append(waited)
    assert restarted_at == [1, 2, 3, 3]


async def test_drained_stop_handles_earlier_messages_first(system: ActorSystem) -> None:
    journal = Journal()
    ref = system.spawn(lambda: Recorder(journal), "rec")
    for i in range(5):
        ref.tell(i)
    await ref.stop()
    assert journal.handled == [0, 1, 2, 3, 4]
    assert journal.stops == 1
    assert not ref.alive
    with pytest.raises(ActorDeadError):
        await ref.ask("count")


async def test_cancelling_stop_fails_pending_asks(system: ActorSystem) -> None:
    journal = Journal()
    ref = system.spawn(lambda: Recorder(journal), "rec")
    ref.tell("slow")
    pending = asyncio.ensure_future(ref.ask("a", timeout=None))
    await asyncio.sleep(0)
    await ref.stop(drain=False)
    with pytest.raises(ActorDeadError):
        await pending


async def test_registry_spawns_on_first_use_and_reaps_idle(
    system: ActorSystem, clock: FakeClock
) -> None:
    journals: dict[str, Journal] = {}

    def make(key: str) -> Recorder:
        return Recorder(journals.setdefault(key, Journal()))

    registry: Registry[str] = Registry(system, make, prefix="chat", idle_after_s=60)
    a = registry.get("a")
    assert registry.get("a") is a
    registry.get("b").tell("hello")
    await run_until_idle(system)
    await clock.advance(30)
    a.tell("keepalive")
    await run_until_idle(system)
    await clock.advance(30)
    assert await registry.reap_idle() == ["b"]
    assert sorted(registry) == ["a"]
    assert journals["b"].stops == 1
    fresh_b = registry.get("b")
    assert fresh_b is not a
    assert fresh_b.alive
    await run_until_idle(system)
    assert journals["b"].starts == 2


async def test_schedule_delivers_on_the_fake_clock(system: ActorSystem, clock: FakeClock) -> None:
    journal = Journal()
    ref = system.spawn(lambda: Recorder(journal), "rec")
    await run_until_idle(system)
    system.cells["rec"].actor.ctx.schedule(5, "later")  # type: ignore[union-attr]
    await clock.advance(4.9)
    await run_until_idle(system)
    assert journal.handled == []
    await clock.advance(0.1)
    await run_until_idle(system)
    assert journal.handled == ["later"]
    assert ref.alive


async def test_run_until_idle_follows_chains_of_tells(system: ActorSystem) -> None:
    seen: list[int] = []

    class Relay(Actor[int]):
        async def receive(self, message: int) -> None:
            seen.append(message)
            if message < 50:
                nxt = system.get(f"r{(message + 1) % 2}")
                assert nxt is not None
                nxt.tell(message + 1)

    system.spawn(Relay, "r0")
    system.spawn(Relay, "r1")
    system.get("r0").tell(0)  # type: ignore[union-attr]
    await run_until_idle(system)
    assert seen == list(range(51))


def test_sequential_ids_are_deterministic() -> None:
    ids = SequentialIds("turn")
    assert [ids(), ids(), ids()] == ["turn-1", "turn-2", "turn-3"]


async def test_a_system_with_no_actors_is_idle(system: ActorSystem) -> None:
    await run_until_idle(system)
    assert system.idle
