"""Config: a YAML file, then environment variables on top. The token never lives in YAML.

The token comes from ``TELEGRAM_BOT_TOKEN`` or from ``telegram.token_file``, a file only its owner
can read; it is held as a ``SecretStr`` so it cannot leak through a repr or a log line. The same
goes for a database password: ``POCKETCODE_DATABASE_URL``, ``PGPASSWORD`` or ``~/.pgpass``, never
the YAML file.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from actors.claude.environment import STRIPPED, is_forbidden
from eventstore.dburl import is_postgres_url, secrets_in
from personas import SHIPPED_DIR
from personas.catalog import PersonaCatalog, load_personas
from service.errors import ConfigError

PUBLIC_API_BASE = "https://api.telegram.org"
#: pocketcode's code: the checkout (with its .venv) or the site-packages it is installed in.
INSTALL_DIR = Path(__file__).resolve().parent.parent
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A secret shorter than this is not looked for inside other text: replacing every "abc" would
#: wreck the text and protect nothing (such a secret is guessed, not leaked).
MIN_SECRET_LEN = 8


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pocketcode"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TelegramSettings(_Section):
    token: SecretStr | None = None
    token_file: Path | None = None
    api_base: str = PUBLIC_API_BASE
    allowed_users: frozenset[int] = frozenset()
    #: Group chats (ids, negative) the allowed users may use the bot in; private chats need none.
    allowed_chats: frozenset[int] = frozenset()
    edit_interval_s: float = Field(1.0, gt=0)
    use_drafts: bool = True
    upload_limit_mb: int = Field(20, gt=0)
    #: Webhook mode: the public https URL Telegram posts to (path /telegram/webhook); unset polls.
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1:8443"
    webhook_secret: SecretStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_allow_groups(cls, value: Any) -> Any:
        if isinstance(value, dict) and "allow_groups" in value:
            raise ValueError(
                "allow_groups is gone: list the group chats the bot may answer in under "
                "telegram.allowed_chats (their ids, e.g. [-1001234567890]), so one group is "
                "allowed, not every group an allowed user is in"
            )
        return value

    @field_validator("allowed_users", "allowed_chats", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value


class ClaudeSettings(_Section):
    bin: str = "claude"
    idle_timeout_s: float = Field(1800, gt=0)
    max_processes: int = Field(4, ge=1)
    turn_timeout_s: float = Field(1800, gt=0)
    permission_timeout_s: float = Field(300, gt=0)
    #: The cost cap of every session that has not set its own with /cap (None: no cap).
    max_cost_usd: float | None = Field(None, gt=0)
    #: Set in claude's environment on top of the few variables it is given from pocketcode's
    #: own (``actors.claude.environment``); never pocketcode's token or POCKETCODE_* settings.
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("env", mode="before")
    @classmethod
    def _env_values_as_text(cls, value: Any) -> Any:
        """YAML reads ``MAX_THINKING_TOKENS: 1024`` as a number; the environment holds text."""
        if isinstance(value, dict):
            return {
                k: str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
                for k, v in value.items()
            }
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not ENV_NAME.fullmatch(name):
                raise ValueError(
                    f"{name!r} is not an environment variable name "
                    "(letters, digits and _, not starting with a digit)"
                )
            if is_forbidden(name) or name in STRIPPED:
                raise ValueError(
                    f"{name} may not be passed to claude: the agent never sees pocketcode's "
                    "token or its POCKETCODE_* settings; remove it from claude.env"
                )
        return value


class VoiceSettings(_Section):
    """Voice messages, transcribed on this machine (the ``voice`` extra: faster-whisper)."""

    #: A Whisper model: a directory in CTranslate2 format, or a name (tiny, base, small...)
    #: fetched once into ``<data_dir>/models``. Unset: voice messages are saved as files.
    model: str | None = None
    #: What is spoken, as a code ("en", "de"); auto detects it per message.
    language: str = "auto"
    device: str = "cpu"
    compute_type: str = "int8"
    #: Longer recordings are not transcribed (they are saved as files).
    max_duration_s: float = Field(300, gt=0)
    #: Transcribing one message may take at most this long.
    timeout_s: float = Field(120, gt=0)


class RoutineSettings(_Section):
    """Routines (``/every``)."""

    #: A run missed while pocketcode was not running: run it once at start (late), or skip it.
    catch_up: Literal["once", "skip"] = "once"


class LogSettings(_Section):
    level: str = "info"
    format: str = Field("auto", pattern="^(auto|console|json)$")


class DataSettings(_Section):
    #: The event log on PostgreSQL (``postgresql://user@host/db``); unset: SQLite in data_dir.
    database_url: SecretStr | None = None

    @field_validator("database_url", mode="before")
    @classmethod
    def _postgres_only(cls, value: Any) -> Any:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text in (None, ""):
            return None
        if not isinstance(text, str) or not is_postgres_url(text):
            # The value is not repeated: it may hold a password.
            raise ValueError(
                "must be a postgresql:// URL, e.g. postgresql://pocketcode@db.example/pocketcode"
            )
        return text


class Config(_Section):
    data_dir: Path = Field(default_factory=default_data_dir)
    personas_dir: Path | None = None
    #: The user's time zone (an IANA name such as Europe/Berlin): routines' schedules are
    #: read in it, daylight saving changes included.
    timezone: str = "UTC"
    data: DataSettings = DataSettings()
    telegram: TelegramSettings = TelegramSettings()
    claude: ClaudeSettings = ClaudeSettings()
    voice: VoiceSettings = VoiceSettings()
    routines: RoutineSettings = RoutineSettings()
    log: LogSettings = LogSettings()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value[:64]!r} is not a time zone: use an IANA name such as Europe/Berlin, "
                "America/New_York or UTC"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "var" / "pocketcode.db"

    @property
    def sessions_dir(self) -> Path:
        return self.data_dir / "sessions"

    @property
    def archive_dir(self) -> Path:
        return self.data_dir / "sessions_archive"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"


def own_dirs(settings: Config) -> dict[str, Path]:
    """pocketcode's own directories, which no agent's working directory may be, hold or lie
    inside (``personas.catalog.cwd_problem``): its log and sessions, its code, its personas."""
    dirs = {"data directory": settings.data_dir, "install directory": INSTALL_DIR}
    if settings.personas_dir is not None:
        dirs["personas directory"] = settings.personas_dir.expanduser()
    return dirs


def persona_catalog(settings: Config) -> PersonaCatalog:
    """The personas as this configuration sees them: the shipped ones, then the user's directory
    over them, each checked against pocketcode's own directories. The one lookup the bot, its
    sessions and the offline commands all use; read on use, so an edited file counts at once."""
    dirs = [SHIPPED_DIR, *([settings.personas_dir] if settings.personas_dir is not None else [])]
    return load_personas(dirs, own_dirs(settings))


def database_exposed(db: Path) -> str | None:
    """Why the event log (or its WAL files) must not be used as it is: readable by others. It
    holds every message and everything the agent printed; pocketcode creates it owner-only."""
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            continue
        if mode & 0o077:
            return (
                f"{path} is open to others (mode {mode:o}) but holds every message and all the "
                f"agent printed; run: chmod 600 {path}"
            )
    return None


#: Environment variable -> (section, key). Environment wins over the file.
ENV_KEYS: Mapping[str, tuple[str | None, str]] = {
    "TELEGRAM_BOT_TOKEN": ("telegram", "token"),
    "POCKETCODE_ALLOWED_USERS": ("telegram", "allowed_users"),
    "POCKETCODE_ALLOWED_CHATS": ("telegram", "allowed_chats"),
    "POCKETCODE_TELEGRAM_API_BASE": ("telegram", "api_base"),
    "POCKETCODE_WEBHOOK_URL": ("telegram", "webhook_url"),
    "POCKETCODE_WEBHOOK_SECRET": ("telegram", "webhook_secret"),
    "POCKETCODE_DATA_DIR": (None, "data_dir"),
    "POCKETCODE_DATABASE_URL": ("data", "database_url"),
    "POCKETCODE_PERSONAS_DIR": (None, "personas_dir"),
    "POCKETCODE_TIMEZONE": (None, "timezone"),
    "POCKETCODE_CLAUDE_BIN": ("claude", "bin"),
    "POCKETCODE_VOICE_MODEL": ("voice", "model"),
    "POCKETCODE_LOG_LEVEL": ("log", "level"),
    "POCKETCODE_LOG_FORMAT": ("log", "format"),
}


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must be a mapping of settings")
    if isinstance(raw.get("telegram"), dict) and "webhook_secret" in raw["telegram"]:
        raise ConfigError(
            f"config file {path} holds telegram.webhook_secret: set POCKETCODE_WEBHOOK_SECRET "
            "in the environment instead"
        )
    url = raw["data"].get("database_url") if isinstance(raw.get("data"), dict) else None
    if isinstance(url, str) and secrets_in(url):
        raise ConfigError(
            f"config file {path} holds a password in data.database_url: keep it out of config "
            "files; use POCKETCODE_DATABASE_URL, PGPASSWORD or ~/.pgpass (mode 600)"
        )
    if isinstance(raw.get("telegram"), dict) and "token" in raw["telegram"]:
        raise ConfigError(
            f"config file {path} holds telegram.token: keep the token out of config files; "
            "use TELEGRAM_BOT_TOKEN or telegram.token_file (a file only you can read)"
        )
    return raw


def read_token_file(path: Path) -> str:
    """Read the token from a file nobody but its owner can read."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"token file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"token file {path} is readable by others; run: chmod 600 {path}")
    return path.read_text(encoding="utf-8").strip()


def load_settings(config_file: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    if config_file is None and env.get("POCKETCODE_CONFIG"):
        config_file = Path(env["POCKETCODE_CONFIG"])
    raw: dict[str, Any] = _read_yaml(config_file) if config_file else {}
    for var, (section, key) in ENV_KEYS.items():
        if var in env and env[var] != "":
            target = raw.setdefault(section, {}) if section else raw
            if not isinstance(target, dict):
                raise ConfigError(f"config section {section!r} must be a mapping")
            target[key] = env[var]
    try:
        settings = Config.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"bad configuration: {problems}") from None
    tg = settings.telegram
    if tg.token is None and tg.token_file is not None:
        token = read_token_file(tg.token_file.expanduser())
        settings = settings.model_copy(
            update={"telegram": tg.model_copy(update={"token": SecretStr(token)})}
        )
    _refuse_secrets_in_claude_env(settings)
    return settings


def secret_values(settings: Config) -> list[str]:
    """What must never reach the agent, the log or a chat: the token, also its part after the
    bot id (the id is public, so that part is the whole secret), and the webhook secret."""
    tg = settings.telegram
    values = [s.get_secret_value() for s in (tg.token, tg.webhook_secret) if s is not None]
    if tg.token is not None:
        values.append(tg.token.get_secret_value().partition(":")[2])
    return [v for v in values if v]


def _refuse_secrets_in_claude_env(settings: Config) -> None:
    secrets = secret_values(settings)
    for name, value in settings.claude.env.items():
        if any(s == value or (len(s) >= MIN_SECRET_LEN and s in value) for s in secrets):
            raise ConfigError(
                f"claude.env.{name} holds the bot token or the webhook secret: the agent must "
                "never see them; remove it from claude.env"
            )


def startup_problems(settings: Config, *, need_token: bool = True) -> list[str]:
    """Everything that stops the bot from starting, in plain words (empty when ready)."""
    problems = []
    if need_token and settings.telegram.token is None:
        problems.append(
            "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather, then "
            "export TELEGRAM_BOT_TOKEN=<token> (or set telegram.token_file in the config)"
        )
    if need_token and not settings.telegram.allowed_users:
        problems.append(
            "no allowed users: pocketcode denies everyone by default; set "
            "POCKETCODE_ALLOWED_USERS to your Telegram user id (ask @userinfobot for it)"
        )
    tg = settings.telegram
    if (
        need_token
        and tg.webhook_url
        and not (tg.webhook_secret and tg.webhook_secret.get_secret_value())
    ):
        problems.append(
            "webhook mode needs a secret: set POCKETCODE_WEBHOOK_SECRET (1-256 characters of "
            "A-Z, a-z, 0-9, _ and -); Telegram sends it with every update and others are refused"
        )
    if shutil.which(settings.claude.bin) is None:
        problems.append(
            f"the claude CLI ({settings.claude.bin!r}) was not found: install it with "
            "`npm install -g @anthropic-ai/claude-code` and log in once with `claude`, "
            "or set POCKETCODE_CLAUDE_BIN to its path"
        )
    return problems
