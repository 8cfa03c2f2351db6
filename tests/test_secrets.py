"""No secret of pocketcode reaches the agent, and none that the agent finds reaches the log or a
chat: claude's environment is named, not inherited, and secrets are redacted on the way out."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from actors.claude.environment import claude_environment
from actors.session import events as ev
from eventstore import MemoryEventStore, NewEvent
from service.config import load_settings, secret_values
from service.errors import ConfigError
from service.logs import REDACTED
from service.redaction import RedactingStore, Secrets
from tests.app_kit import AppKit

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawXyZ"
HOOK = "webhook-Secret_abcdefghij"
#: What is secret: the token's part after the bot id (the id is public), the webhook secret.
SECRETS = (TOKEN.partition(":")[2], HOOK)


def leaks(text: str) -> list[str]:
    """Pieces of 8 characters or more of a secret that ``text`` shows."""
    return [s[i : i + 8] for s in SECRETS for i in range(len(s) - 7) if s[i : i + 8] in text]


@pytest.fixture
def pocketcode_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """pocketcode's own environment as a deployment has it: secrets beside the basics."""
    for name, value in {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "POCKETCODE_WEBHOOK_SECRET": HOOK,
        "POCKETCODE_CONFIG": "/etc/pocketcode/config.yaml",
        "CLAUDECODE": "1",
        "SOME_OTHER_SERVICE_PASSWORD": "hunter2hunter2",
        "LC_TIME": "C.UTF-8",
        "https_proxy": "http://proxy.invalid:3128",
        "ANTHROPIC_BASE_URL": "http://anthropic.invalid",
    }.items():
        monkeypatch.setenv(name, value)


# -- what claude is started with --------------------------------------------------------------


@pytest.mark.usefixtures("pocketcode_env")
async def test_a_session_never_sees_pocketcode_secrets(tmp_path: Path) -> None:
    kit = AppKit(tmp_path, claude_env={"PROJECT_FLAG": "for-the-agent"})
    await kit.start(TELEGRAM_BOT_TOKEN=TOKEN, POCKETCODE_WEBHOOK_SECRET=HOOK)
    try:
        await kit.send("/new work")
        reply = (await kit.turn("[[env]]")).text  # the fake answers like `printenv`
    finally:
        await kit.stop()
    names = {line.partition("=")[0] for line in reply.splitlines()}
    assert "TELEGRAM_BOT_TOKEN" not in names
    assert not [n for n in names if n.startswith("POCKETCODE_")]
    assert not names & {"CLAUDECODE", "SOME_OTHER_SERVICE_PASSWORD"}
    assert {"PATH", "LC_TIME", "https_proxy", "ANTHROPIC_BASE_URL", "PROJECT_FLAG"} <= names
    assert "FAKE_CLAUDE_STATE_DIR" in names  # claude.env of the test config
    assert not leaks(reply)


def test_the_environment_is_named_and_claude_env_cannot_add_secrets() -> None:
    inherited = {
        "PATH": "/usr/bin",
        "HOME": "/home/p",
        "LC_ALL": "C",
        "XDG_CONFIG_HOME": "/home/p/.config",
        "NO_PROXY": "localhost",
        "CLAUDE_CONFIG_DIR": "/home/p/.claude",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "POCKETCODE_WEBHOOK_SECRET": HOOK,
        "CLAUDECODE": "1",
        "DATABASE_URL": "postgres://u:p@db/x",
    }
    extra = {"PROJECT": "x", "POCKETCODE_WEBHOOK_SECRET": HOOK, "TELEGRAM_BOT_TOKEN": TOKEN}
    env, refused = claude_environment(inherited, extra)
    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/home/p",
        "LC_ALL": "C",
        "XDG_CONFIG_HOME": "/home/p/.config",
        "NO_PROXY": "localhost",
        "CLAUDE_CONFIG_DIR": "/home/p/.claude",
        "PROJECT": "x",
    }
    assert sorted(refused) == ["POCKETCODE_WEBHOOK_SECRET", "TELEGRAM_BOT_TOKEN"]


def write_config(tmp: Path, text: str) -> Path:
    path = tmp / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["TELEGRAM_BOT_TOKEN", "POCKETCODE_WEBHOOK_SECRET", "CLAUDECODE"])
def test_claude_env_naming_a_secret_is_refused_in_words(tmp_path: Path, name: str) -> None:
    config = write_config(tmp_path, f"claude:\n  env:\n    {name}: x\n")
    with pytest.raises(ConfigError, match=f"{name} may not be passed to claude"):
        load_settings(config, env={})


def test_claude_env_holding_the_token_is_refused_in_words(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"claude:\n  env:\n    BOT_URL: https://x/bot{TOKEN}/\n")
    with pytest.raises(ConfigError, match=r"claude\.env\.BOT_URL holds the bot token"):
        load_settings(config, env={"TELEGRAM_BOT_TOKEN": TOKEN})


def test_claude_env_values_are_text(tmp_path: Path) -> None:
    config = write_config(tmp_path, "claude:\n  env:\n    MAX_THINKING_TOKENS: 1024\n")
    assert load_settings(config, env={}).claude.env == {"MAX_THINKING_TOKENS": "1024"}
    bad = write_config(tmp_path, "claude:\n  env:\n    1BAD: x\n")
    with pytest.raises(ConfigError, match="is not an environment variable name"):
        load_settings(bad, env={})


# -- what reaches the log and the chat --------------------------------------------------------


async def test_a_secret_the_agent_prints_is_redacted_in_chat_and_log(tmp_path: Path) -> None:
    kit = AppKit(tmp_path)
    app = await kit.start(TELEGRAM_BOT_TOKEN=TOKEN, POCKETCODE_WEBHOOK_SECRET=HOOK)
    try:
        await kit.send("/new work")
        # The agent reads a file holding the secrets (a token file: it runs as pocketcode's
        # user); the fake streams it in 40-character deltas, which split the secrets.
        found = tmp_path / "found.txt"
        found.write_text(f"found these: {TOKEN} and {HOOK} in a file", encoding="utf-8")
        reply = await kit.turn(f"[[cat:{found}]]")
        events = [e async for e in app.store.read_all()]
    finally:
        await kit.stop()
    assert reply.text.count(REDACTED) == 2
    shown = [s.text + (s.footer or "") for items in kit.view.shown.values() for s in items]
    assert not [leaks(text) for text in shown if leaks(text)]
    assert not leaks("\n".join(json.dumps(e.data) for e in events))
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "data" / "var").iterdir())
    assert not leaks(on_disk.decode("latin-1"))


def test_every_nested_string_is_redacted_keys_too() -> None:
    secrets = Secrets([TOKEN, HOOK])
    data = {"line": {"content": [{"text": f"a {TOKEN} b"}], HOOK: [HOOK, 3, None]}, "n": 1}
    assert secrets.data(data) == {
        "line": {"content": [{"text": f"a {REDACTED} b"}], REDACTED: [REDACTED, 3, None]},
        "n": 1,
    }


def test_pieces_of_a_split_secret_are_redacted() -> None:
    secrets = Secrets([HOOK])
    message = f"the token is {TOKEN} and the webhook secret {HOOK}, both"
    for size in range(1, len(message) + 1):  # however the deltas cut it, no 8 characters show
        deltas = [message[i : i + size] for i in range(0, len(message), size)]
        assert not [d for d in deltas if leaks(Secrets([TOKEN, *SECRETS]).pieces(d))], size
    assert secrets.pieces(f"it is {HOOK[:12]}") == f"it is {REDACTED}"
    assert secrets.pieces(f"{HOOK[-10:]} was it") == f"{REDACTED} was it"
    assert secrets.pieces(HOOK[3:15]) == REDACTED
    for unchanged in ("a plain reply", "webhook-S is how it starts", f"short {HOOK[:7]}"):
        assert secrets.pieces(unchanged) == unchanged


def test_the_token_counts_with_and_without_its_public_bot_id() -> None:
    settings = load_settings(None, env={"TELEGRAM_BOT_TOKEN": TOKEN})
    secrets = Secrets(secret_values(settings))
    assert secrets.text(f"bot{TOKEN}/getMe") == f"bot{REDACTED}/getMe"
    assert secrets.text(f"secret part: {TOKEN.partition(':')[2]}") == f"secret part: {REDACTED}"


async def test_a_secret_pasted_by_mistake_does_not_reach_claude(tmp_path: Path) -> None:
    kit = AppKit(tmp_path)
    await kit.start(TELEGRAM_BOT_TOKEN=TOKEN, POCKETCODE_WEBHOOK_SECRET=HOOK)
    try:
        await kit.send("/new work")
        reply = await kit.turn(f"oops, here is the token: {TOKEN}")
    finally:
        await kit.stop()
    assert reply.text == f"Echo: oops, here is the token: {REDACTED}"  # as claude received it
    kept = b"".join(p.read_bytes() for p in (tmp_path / "fake-state").rglob("*") if p.is_file())
    assert kept, "the fake keeps what it was sent"
    assert not leaks(kept.decode("utf-8", "replace"))


async def test_the_log_gets_an_event_without_secrets_as_it_is_and_one_with_them_redacted() -> None:
    """The quick check (a scan of the event's JSON) misses no secret, even one whose
    characters JSON escapes, and leaves the caller's data alone."""
    odd = 'pass"word\\with\nescapes'
    store = RedactingStore(MemoryEventStore(), Secrets([TOKEN, odd]))
    plain = {"line": {"type": "assistant", "content": [{"text": "nothing to hide"}]}}
    nested = {"line": {"content": [{"text": f"a {odd} b"}], "n": [1, None]}}
    delta = {"line": {"type": "stream_event", "event": {"delta": {"text": f"is {TOKEN[:12]}"}}}}
    before = copy.deepcopy([plain, nested, delta])
    events = [NewEvent(ev.STDOUT, plain), NewEvent(ev.STDOUT, nested), NewEvent(ev.STREAM, delta)]
    logged = await store.append("session:work", events)
    assert logged[0].data is plain, "no secret: not copied"
    assert logged[1].data == {"line": {"content": [{"text": f"a {REDACTED} b"}], "n": [1, None]}}
    assert logged[2].data["line"]["event"]["delta"] == {"text": f"is {REDACTED}"}
    assert [plain, nested, delta] == before, "the caller's data is not changed"
