"""End to end on several processes: an intake and three workers share 60 chats through one
PostgreSQL log and the Bot API stand-in; one worker is SIGKILLed mid-turn.

Each chat: ``/new``, then a message whose reply is held mid-stream by the fake claude
(``[[hold:go]]``). Once every chat of the victim has its reply streaming, the victim is killed
and the held replies are let go. Its leases lapse and the other workers take its chats over,
rebuild them from the log and tell each chat whose turn was cut off. Then every chat sends one
more message. At the end: every message answered exactly once or reported cut off once (never
both, never twice), cut-offs only where the victim ran a turn, the victim's chats held by the
others and answering again, a file and a voice message saved by the workers, /every refused
in words (no worker keeps routines), every update in the log handled exactly once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from service.cli import main
from tests.cluster_kit import CUT_OFF, Cluster
from tests.fakes.botapi import FakeBotAPI
from tests.session_kit import FAKE_CLAUDE

CHATS = 60
USERS = list(range(1001, 1001 + CHATS))  # private chats: the chat id is the user's id
PAD = " ".join(["and then some more plain words so that the answer streams in pieces"] * 3)


def marker(chat: int, step: int) -> str:
    return f"marker-{chat}-{step}-end"


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    stand_in = FakeBotAPI()
    stand_in.flood.configure(enabled=False)
    await stand_in.start()
    try:
        yield stand_in
    finally:
        await stand_in.stop()


@pytest.fixture
async def cluster(api: FakeBotAPI, pg_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    kit = Cluster(api, tmp_path, pg_url, USERS, workers=3, lease_ttl_s=10)
    try:
        await kit.start()
        yield kit
    finally:
        await kit.close()


async def every_chat(
    api: FakeBotAPI, cluster: Cluster, holds: Callable[[int], bool], what: str
) -> None:
    """Until ``holds(chat)`` for every chat; on a timeout, which chats did not and why."""
    try:
        await api.wait_for(lambda: all(holds(c) for c in USERS), timeout=180)
    except TimeoutError:
        missing = {c: texts(api, c) for c in USERS if not holds(c)}
        owners = await cluster.holders()
        detail = "\n".join(f"{c} ({owners.get(c)}): {t}" for c, t in list(missing.items())[:5])
        raise AssertionError(
            f"{len(missing)} chats never showed {what}:\n{detail}\n{cluster.tails()}"
        ) from None


def texts(api: FakeBotAPI, chat: int) -> list[str]:
    return [m.text or m.caption or "" for m in api.bot_messages(chat)]


def answers(api: FakeBotAPI, chat: int, step: int) -> int:
    """Replies to the step the chat shows (a cut-off notice quoting it is not one)."""
    return sum(marker(chat, step) in t and CUT_OFF not in t for t in texts(api, chat))


def cut_offs(api: FakeBotAPI, chat: int) -> int:
    return sum(CUT_OFF in t for t in texts(api, chat))


async def test_a_worker_killed_mid_turn_hands_its_chats_to_the_others(
    api: FakeBotAPI, cluster: Cluster
) -> None:
    for chat in USERS:
        api.push_message(chat, chat, f"/new s{chat}")
    await every_chat(api, cluster, lambda c: any("Created" in t for t in texts(api, c)), "/new")
    owners = await cluster.holders()
    assert set(owners) == set(USERS)
    assert set(owners.values()) == set(cluster.worker_names)  # the chats are spread
    victim = Counter(owners.values()).most_common(1)[0][0]
    doomed = {c for c, w in owners.items() if w == victim}

    for chat in USERS:
        api.push_message(chat, chat, f"[[hold:go]] m1: {PAD} {marker(chat, 1)}")

    async def streaming() -> set[int]:
        """Chats of the victim whose reply has begun to stream (and is held there)."""
        streams = {e["stream"] for e in await cluster.events("session.stream")}
        return {c for c in doomed if f"session:s{c}" in streams}

    await cluster.until(lambda r: r == doomed, streaming, 120, "the victim's replies streaming")
    cluster.nodes[victim].kill()
    cluster.release("go")

    await every_chat(
        api, cluster, lambda c: answers(api, c, 1) + cut_offs(api, c) >= 1, "m1's answer"
    )
    after = await cluster.until(
        lambda held: set(held) == set(USERS) and victim not in held.values(),
        cluster.holders,
        60,
        "the victim's chats held by the others",
    )
    assert {after[c] for c in doomed} <= set(cluster.worker_names) - {victim}

    for chat in USERS:
        api.push_message(chat, chat, f"m2: {marker(chat, 2)}")
    await every_chat(api, cluster, lambda c: answers(api, c, 2) >= 1, "m2's answer")

    for chat in USERS:
        first, cut = answers(api, chat, 1), cut_offs(api, chat)
        assert (first, cut) in ((1, 0), (0, 1)), (chat, texts(api, chat))
        assert answers(api, chat, 2) == 1, (chat, texts(api, chat))
        if chat not in doomed:
            assert cut == 0, (chat, texts(api, chat))
    assert sum(cut_offs(api, c) for c in doomed) == len(doomed)  # every one was mid-turn

    # Files and voice messages reach the worker through the database, not the log. Routines
    # are kept by no worker: /every says so, in words.
    first, second, third = USERS[:3]
    api.push_document(first, first, "notes.txt", b"the notes\n" * 1000, caption="read this")
    api.push_voice(second, second, b"OggS fake opus bytes")
    api.push_message(third, third, "/every daily 08:00 check the disks")
    refused = "Routines run only in a single pocketcode"
    await every_chat(
        api,
        cluster,
        lambda c: (
            (c not in (first, second) or any("Saved uploads/" in t for t in texts(api, c)))
            and (c != third or any(refused in t for t in texts(api, c)))
        ),
        "the file saved, /every refused",
    )
    uploads = cluster.data / "sessions"
    assert (uploads / f"s{first}" / "uploads" / "notes.txt").read_bytes() == b"the notes\n" * 1000
    [voice] = (uploads / f"s{second}" / "uploads").iterdir()
    assert voice.read_bytes() == b"OggS fake opus bytes"

    async def handled() -> Counter[str]:
        return Counter(e["data"]["ref"] for e in await cluster.events("chat.update_handled"))

    received = [e["cid"] for e in await cluster.events("update.received")]
    assert len(received) == CHATS * 3 + 3
    done = await cluster.until(lambda h: set(received) <= set(h), handled, 60, "all handled")
    assert set(done.values()) == {1}, "an update handled twice"


@pytest.mark.parametrize("shared", [True, False], ids=["shared-dir", "own-dirs"])
async def test_a_conversation_moves_with_its_chat_only_through_a_shared_directory(
    api: FakeBotAPI, pg_url: str, tmp_path: Path, shared: bool
) -> None:
    """The chat's worker goes between turns (stopped cleanly with a shared directory, killed
    without). With claude's files in a shared directory the new worker resumes the
    conversation; without, it starts afresh and the chat is told."""
    chats = [2001, 2002]
    kit = Cluster(api, tmp_path, pg_url, chats, workers=2, lease_ttl_s=5, shared_claude_dir=shared)
    try:
        await kit.start()
        for chat in chats:
            api.push_message(chat, chat, f"/new t{chat}")
            api.push_message(chat, chat, f"remember heron-{chat}")
        await api.wait_for(
            lambda: all(
                any(f"Echo: remember heron-{c}" in t for t in texts(api, c)) for c in chats
            ),
            timeout=120,
        )
        owners = await kit.holders()
        chat, victim = chats[0], owners[chats[0]]
        if shared:
            assert await kit.nodes[victim].stop() == 0  # SIGTERM: a clean stop lets go at once
        else:
            kit.nodes[victim].kill()
        await kit.until(
            lambda held: held.get(chat) not in (None, victim), kit.holders, 60, "a takeover"
        )
        api.push_message(chat, chat, "[[recall]]")
        await api.wait_for(lambda: any("history:" in t for t in texts(api, chat)), timeout=120)
    finally:
        await kit.close()
    [recalled] = [t for t in texts(api, chat) if "history:" in t]
    told = [t for t in texts(api, chat) if "could not be resumed" in t]
    if shared:
        assert f"remember heron-{chat}" in recalled
        assert told == []
    else:
        assert recalled.startswith("turns=0; history:\n")  # a fresh conversation
        assert told == [
            f"The earlier claude conversation of t{chat} could not be resumed; "
            "continuing in a fresh conversation."
        ]


@pytest.mark.parametrize("role", ["intake", "worker"])
def test_a_role_of_several_needs_the_shared_database_and_says_so(
    role: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:TEST-token_abcdefghijklmnop")
    monkeypatch.setenv("POCKETCODE_ALLOWED_USERS", "1")
    # the intake runs no claude: it is not asked for
    monkeypatch.setenv("POCKETCODE_CLAUDE_BIN", FAKE_CLAUDE if role == "worker" else "/no/claude")
    monkeypatch.delenv("POCKETCODE_DATABASE_URL", raising=False)
    monkeypatch.delenv("POCKETCODE_CONFIG", raising=False)
    assert main(["run", "--role", role]) == 2
    err = capsys.readouterr().err
    assert f"--role {role} needs the event log on PostgreSQL" in err
    assert "POCKETCODE_DATABASE_URL" in err
    assert "claude CLI" not in err
