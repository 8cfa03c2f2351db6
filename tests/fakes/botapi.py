"""A Bot API stand-in: an aiohttp server that answers like Telegram, for end-to-end tests.

Tests drive the real aiogram client against it::

    async with FakeBotAPI() as api:
        bot = Bot(api.token, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))

Refusals use Telegram's exact descriptions and HTTP codes (see shared/telegram/README.md), HTML is
checked by a port of tdlib's parser, `entities` lists by ports of the Bot API's and tdlib's
checks (what Telegram would silently drop from valid ones is noted in `entity_faults`), flood
control runs on an injectable clock, and faults
(5xx answers, dropped connections) can be injected. Topics are modelled in forum supergroups
(`make_forum`) and in private chats when the bot's topic mode is on (`private_topics`): opened,
renamed, closed and reopened by the bot or a user (each leaving Telegram's service message as an
update, the bot's own too), `message_thread_id` on sends, drafts, chat actions and messages, and
the refusals for a closed or unknown topic. The stand-in is stricter than Telegram in
two places, on purpose: an unescaped '&' is refused, and the 4096 limit counts whitespace that
Telegram would trim.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from aiohttp import BodyPartReader, web


def _u16len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------- HTML parse mode

SUPPORTED = frozenset(
    [
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    ]
)
_ENTITY_TYPE = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "s": "strikethrough",
    "strike": "strikethrough", "del": "strikethrough", "u": "underline", "ins": "underline",
    "tg-spoiler": "spoiler", "span": "spoiler", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "a": "text_link", "tg-emoji": "custom_emoji",
}  # fmt: skip


class EntityParseError(ValueError):
    """Telegram would answer 400 `Bad Request: can't parse entities: <message>`."""


@dataclass
class _Open:
    tag: str
    argument: str
    utf16_offset: int
    expandable: bool = False


@dataclass
class Parsed:
    """Visible text and its entities (offsets in UTF-16 code units)."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def _is_space(c: str) -> bool:
    return c in " \t\r\n\f\v"


def _utf16(c: str) -> int:
    return 2 if ord(c) > 0xFFFF else 1


class _Parser:
    def __init__(self, text: str, strict_ampersand: bool) -> None:
        self.t = text
        self.n = len(text)
        self.strict = strict_ampersand

    def at(self, i: int) -> str:
        return self.t[i] if i < self.n else "\0"

    def byte(self, i: int) -> int:
        return len(self.t[:i].encode("utf-8"))

    def entity(self, pos: int) -> tuple[str, int] | None:
        """Decode an HTML entity at pos (which is '&'): (char, next pos) or None if unknown."""
        end = pos + 1
        res = 0
        if self.at(end) == "#":
            end += 1
            hexa = self.at(end) == "x"
            if hexa:
                end += 1
            digits = "0123456789abcdefABCDEF" if hexa else "0123456789"
            while self.at(end) != "\0" and self.at(end) in digits:
                res = res * (16 if hexa else 10) + int(self.at(end), 16)
                end += 1
                if res >= 0x10FFFF:
                    return None
            if res == 0 or res >= 0x10FFFF or 0xD800 <= res <= 0xDFFF:
                return None
        else:
            while self.at(end).isascii() and self.at(end).isalpha():
                end += 1
            name = self.t[pos + 1 : end]
            named = {"lt": 60, "gt": 62, "amp": 38, "quot": 34}
            if name not in named:
                return None
            res = named[name]
        if self.at(end) == ";":
            end += 1
        return chr(res), end

    def err(self, msg: str) -> EntityParseError:
        return EntityParseError(msg)

    def parse(self) -> Parsed:
        out: list[str] = []
        utf16 = 0
        stack: list[_Open] = []
        entities: list[dict[str, Any]] = []
        i = 0
        while i < self.n:
            c = self.t[i]
            if c == "&":
                dec = self.entity(i)
                if dec is not None:
                    out.append(dec[0])
                    utf16 += _utf16(dec[0])
                    i = dec[1]
                    continue
                if self.strict:
                    raise self.err(f'Unescaped "&" at byte offset {self.byte(i)}')
            if c != "<":
                out.append(c)
                utf16 += _utf16(c)
                i += 1
                continue
            begin = i
            i += 1
            if self.at(i) != "/":
                name_begin = i
                while not _is_space(self.at(i)) and self.at(i) not in ">\0":
                    i += 1
                if self.at(i) == "\0":
                    raise self.err(f"Unclosed start tag at byte offset {self.byte(begin)}")
                tag = self.t[name_begin:i].lower()
                if tag not in SUPPORTED:
                    raise self.err(
                        f'Unsupported start tag "{tag}" at byte offset {self.byte(begin)}'
                    )
                argument, expandable = "", False
                while self.at(i) != ">":
                    while self.at(i) != "\0" and _is_space(self.at(i)):
                        i += 1
                    if self.at(i) == ">":
                        break
                    attr_begin = i
                    while not _is_space(self.at(i)) and self.at(i) not in "=>\0":
                        i += 1
                    attr = self.t[attr_begin:i]
                    if not attr:
                        raise self.err(
                            f'Empty attribute name in the tag "{tag}" at byte offset '
                            f"{self.byte(begin)}"
                        )
                    while self.at(i) != "\0" and _is_space(self.at(i)):
                        i += 1
                    if self.at(i) != "=":
                        if self.at(i) == "\0":
                            raise self.err(
                                f'Unclosed start tag "{tag}" at byte offset {self.byte(begin)}'
                            )
                        if tag == "blockquote" and attr == "expandable":
                            expandable = True
                            continue
                        raise self.err(
                            "Expected equal sign in declaration of an attribute of the tag "
                            f'"{tag}" at byte offset {self.byte(begin)}'
                        )
                    i += 1
                    while self.at(i) != "\0" and _is_space(self.at(i)):
                        i += 1
                    if self.at(i) == "\0":
                        raise self.err(f"Unclosed start tag at byte offset {self.byte(begin)}")
                    value_chars: list[str] = []
                    if self.at(i) not in "'\"":
                        tok_begin = i
                        while self.at(i).isascii() and (self.at(i).isalnum() or self.at(i) in ".-"):
                            i += 1
                        value_chars.append(self.t[tok_begin:i].lower())
                        if not _is_space(self.at(i)) and self.at(i) != ">":
                            offset = self.byte(tok_begin)
                            raise self.err(f"Unexpected end of name token at byte offset {offset}")
                    else:
                        quote = self.at(i)
                        i += 1
                        while self.at(i) != quote and self.at(i) != "\0":
                            if self.at(i) == "&":
                                dec = self.entity(i)
                                if dec is not None:
                                    value_chars.append(dec[0])
                                    i = dec[1]
                                    continue
                            value_chars.append(self.at(i))
                            i += 1
                        if self.at(i) == quote:
                            i += 1
                    if self.at(i) == "\0":
                        raise self.err(f"Unclosed start tag at byte offset {self.byte(begin)}")
                    value = "".join(value_chars)
                    if (tag == "a" and attr == "href") or (
                        tag == "tg-emoji" and attr == "emoji-id"
                    ):
                        argument = value
                    elif tag == "code" and attr == "class" and value.startswith("language-"):
                        argument = value[9:]
                    elif tag == "span" and attr == "class" and value.startswith("tg-"):
                        argument = value[3:]
                if tag == "span" and argument != "spoiler":
                    raise self.err(
                        f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte(begin)}'
                    )
                stack.append(_Open(tag, argument, utf16, expandable))
                i += 1  # skip '>'
            else:
                if not stack:
                    raise self.err(f"Unexpected end tag at byte offset {self.byte(begin)}")
                i += 1
                while not _is_space(self.at(i)) and self.at(i) not in ">\0":
                    i += 1
                end_name = self.t[begin + 2 : i]
                while self.at(i) != "\0" and _is_space(self.at(i)):
                    i += 1
                if self.at(i) != ">":
                    raise self.err(f"Unclosed end tag at byte offset {self.byte(begin)}")
                top = stack.pop()
                if end_name and end_name.lower() != top.tag:
                    raise self.err(
                        f"Unmatched end tag at byte offset {self.byte(begin)}, expected "
                        f'"</{top.tag}>", found "</{end_name}>"'
                    )
                i += 1
                length = utf16 - top.utf16_offset
                if length > 0:
                    ent: dict[str, Any] = {
                        "type": _ENTITY_TYPE[top.tag], "offset": top.utf16_offset, "length": length,
                    }  # fmt: skip
                    if top.tag == "a":
                        ent["url"] = top.argument
                    elif top.tag == "tg-emoji":
                        ent["custom_emoji_id"] = top.argument
                    elif top.tag == "blockquote" and top.expandable:
                        ent["type"] = "expandable_blockquote"
                    if top.tag == "code" and top.argument and stack and stack[-1].tag == "pre":
                        stack[-1].argument = top.argument
                        continue
                    if top.tag == "pre" and top.argument:
                        ent["language"] = top.argument
                    entities.append(ent)
        if stack:
            raise self.err(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
        entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return Parsed("".join(out), entities)


def parse_html(text: str, *, strict_ampersand: bool = True) -> Parsed:
    """Parse `text` like Telegram's HTML mode; raise EntityParseError with Telegram's message.

    Real Telegram keeps an unknown `&...` literally; with strict_ampersand (the default) the
    stand-in refuses it, so code that forgets to escape '&' is caught in tests.
    """
    return _Parser(text, strict_ampersand).parse()


# --------------------------------------------------------------------------- entities

#: MessageEntity types a bot may send, and those the Bot API drops (Telegram finds them itself)
ENTITY_TYPES = frozenset(
    ["bold", "italic", "underline", "strikethrough", "spoiler", "code", "pre", "text_link",
     "text_mention", "custom_emoji", "blockquote", "expandable_blockquote", "date_time"]
)  # fmt: skip
_FOUND_BY_TELEGRAM = frozenset(
    ["mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number",
     "bank_card_number"]
)  # fmt: skip
_SPLITTABLE = frozenset(["bold", "italic", "underline", "strikethrough", "spoiler"])
_QUOTES = frozenset(["blockquote", "expandable_blockquote"])
_CODE = frozenset(["pre", "code"])
_URL_PART_CHARS = frozenset("!$,~*'();&+=._-")
#: tdlib's order for entities over the same range: the lower comes first (is the outer one)
_PRIORITY = {
    "blockquote": 0, "expandable_blockquote": 0, "pre": 11, "code": 20, "date_time": 30,
    "text_link": 49, "text_mention": 49, "bold": 90, "italic": 91, "underline": 92,
    "strikethrough": 93, "spoiler": 94, "custom_emoji": 99,
}  # fmt: skip


class EntityError(ValueError):
    """Telegram would refuse the entities with 400 `Bad Request: <message>`."""


def _json_int(entity: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    """tdlib's JsonObject::get_required_int_field: a number, or a string holding one."""
    if name not in entity:
        if required:
            raise EntityError(f"can't parse MessageEntity: Can't find field \"{name}\"")
        return None
    value = entity[name]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise EntityError(f'can\'t parse MessageEntity: Field "{name}" must be a Number')
    try:
        return int(value)
    except ValueError:
        raise EntityError(
            f'can\'t parse MessageEntity: Field "{name}" must be a valid Number'
        ) from None


def _json_str(entity: dict[str, Any], name: str, *, required: bool) -> str:
    if name not in entity:
        if required:
            raise EntityError(f"can't parse MessageEntity: Can't find field \"{name}\"")
        return ""
    value = entity[name]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise EntityError(f'can\'t parse MessageEntity: Field "{name}" must be of type String')
    return str(value)


def _url_part_error(part: str, name: str, allow_colon: bool) -> str | None:
    i = 0
    while i < len(part):
        c = part[i]
        if (c.isascii() and c.isalnum()) or c in _URL_PART_CHARS or (allow_colon and c == ":"):
            pass
        elif c == "%":
            if not re.fullmatch(r"[0-9a-fA-F]{2}", part[i + 1 : i + 3]):
                return f"Wrong percent-encoded symbol in URL {name}"
            i += 2
        elif ord(c) < 128:
            return f"Disallowed character in URL {name}"
        i += 1
    return None


def link_error(url: str) -> str | None:
    """Why Telegram refuses `url` for a text link (a port of tdlib's check_link), or None."""
    link, is_tg = url, url.lower().startswith("tg:")
    if is_tg:
        link = link[3:].removeprefix("//")
    proto = re.match(r"[^:/?#@\[\]]*", link)
    assert proto is not None
    rest = link
    if link[proto.end() :].startswith("://"):
        if proto.group(0).lower() not in ("http", "https"):
            return "Unsupported URL protocol"
        rest = link[proto.end() + 3 :]
    host_port = re.match(r"[^/?#]*", rest)
    assert host_port is not None
    hp, port = host_port.group(0), 0
    i = len(hp) - 1
    while i > 0 and hp[i] not in ":]@":
        i -= 1
    user_host = hp
    if i > 0 and hp[i] == ":":
        digits = hp[i + 1 :]
        while len(digits) > 1 and digits[0] == "0":
            digits = digits[1:]
        port = int(digits) if digits.isdigit() and len(digits) < 10 else -1
        port = -1 if port == 0 else port
        user_host = hp[:i]
    if port < 0 or port > 65535:
        return "Wrong port number specified in the URL"
    userinfo, _, host = user_host.rpartition("@")
    ipv6 = host.startswith("[") and host.endswith("]")
    if not host:
        return "URL host is empty"
    if host == ".":
        return "Host is invalid"
    if not ipv6:
        error = _url_part_error(host.lower(), "host", False)
        error = error or _url_part_error(userinfo, "userinfo", True)
        if error:
            return error
    if is_tg:
        return None if re.fullmatch(r"[A-Za-z0-9_-]+", host) else "Unallowed characters in URL host"
    return None if "." in host or ipv6 else "Wrong HTTP URL"


def check_entities(text: str, raw: Any) -> list[dict[str, Any]]:
    """The entities Telegram keeps for `text`; EntityError where it refuses them.

    The Bot API reads each entity (unknown type, missing url: refused; types Telegram detects
    itself: dropped), then tdlib checks links, offsets and lengths against the text in UTF-16
    code units. Empty entities are dropped. Refusals carry Telegram's descriptions.
    """
    if not isinstance(raw, list):
        return []  # the Bot API ignores an entities value that is not an array
    kept: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict):
            raise EntityError("can't parse MessageEntity: expected an Object")
        offset, length = _json_int(item, "offset"), _json_int(item, "length")
        kind = _json_str(item, "type", required=True)
        if not kind:
            raise EntityError("can't parse MessageEntity: Type is not specified")
        if kind in _FOUND_BY_TELEGRAM:
            continue
        if kind not in ENTITY_TYPES:
            raise EntityError("can't parse MessageEntity: Unsupported type specified")
        entity: dict[str, Any] = {"type": kind, "offset": offset, "length": length}
        if kind == "text_link":
            entity["url"] = _json_str(item, "url", required=True)
        elif kind == "pre":
            if language := _json_str(item, "language", required=False):
                entity["language"] = language
        elif kind == "custom_emoji":
            entity["custom_emoji_id"] = str(_json_int(item, "custom_emoji_id"))
        elif kind == "text_mention":
            user = item.get("user")
            if not isinstance(user, dict):
                raise EntityError("can't parse MessageEntity: Can't find field \"user\"")
            entity["user"] = {"id": _json_int(user, "id")}
        kept.append(entity)
    for entity in kept:  # tdlib: get_message_entities, then fix_formatted_text
        if entity["type"] == "text_link" and (why := link_error(entity["url"])):
            raise EntityError(f"entity URL '{entity['url']}' is invalid: {why}")
        if entity["type"] == "custom_emoji" and entity["custom_emoji_id"] == "0":
            raise EntityError("invalid custom emoji identifier specified")
    for entity in kept:
        if not 0 <= entity["offset"] <= 1_000_000:
            raise EntityError(f"receive an entity with incorrect offset {entity['offset']}")
        if not 0 <= entity["length"] <= 1_000_000:
            raise EntityError(f"receive an entity with incorrect length {entity['length']}")
    kept = [e for e in kept if e["length"] > 0]
    kept.sort(key=lambda e: (e["offset"], -e["length"], _PRIORITY[e["type"]]))
    starts, total = _utf16_starts(text)
    for e in kept:
        end = e["offset"] + e["length"]
        if e["offset"] > total:
            raise EntityError(
                f"entity begins after the end of the text at UTF-16 offset {e['offset']}"
            )
        if end > total:
            raise EntityError(
                f"entity beginning at UTF-16 offset {e['offset']} ends after the end of the text "
                f"at UTF-16 offset {end}"
            )
        if e["offset"] not in starts:
            raise EntityError(
                "entity begins in a middle of a UTF-16 symbol at byte offset "
                f"{starts[e['offset'] + 1]}"
            )
        if end not in starts:
            raise EntityError(
                f"entity beginning at UTF-16 offset {e['offset']} ends in a middle of a UTF-16 "
                f"symbol at byte offset {starts[end + 1]}"
            )
    return kept


def _utf16_starts(text: str) -> tuple[dict[int, int], int]:
    """UTF-16 offset -> UTF-8 byte offset where each character starts (and the end); length."""
    starts, units, size = {0: 0}, 0, 0
    for c in text:
        units += _utf16(c)
        size += len(c.encode())
        starts[units] = size
    return starts, units


def entity_faults(entities: list[dict[str, Any]]) -> list[str]:
    """What Telegram would silently change in valid `entities` (sorted), in words.

    tdlib drops what cannot nest: anything inside code or pre, formatting over code (it is
    cut out), a link or code inside another link or code, a quote inside a quote, and entities
    that cross each other; bold, italic, etc. crossing each other are resplit without loss.
    """
    faults: list[str] = []
    stack: list[dict[str, Any]] = []

    def name(e: dict[str, Any]) -> str:
        return f"{e['type']}@{e['offset']}+{e['length']}"

    for e in entities:
        while stack and e["offset"] >= stack[-1]["offset"] + stack[-1]["length"]:
            stack.pop()
        end, kind = e["offset"] + e["length"], e["type"]
        for outer in stack:
            okind, oend = outer["type"], outer["offset"] + outer["length"]
            both_split = kind in _SPLITTABLE and okind in _SPLITTABLE
            if end > oend and not both_split:
                faults.append(f"{name(e)} crosses {name(outer)}")
            elif okind in _CODE:
                faults.append(f"{name(e)} is inside {name(outer)}")
            elif kind in _CODE and okind in _SPLITTABLE:
                faults.append(f"{name(outer)} is cut out of {name(e)}")
            elif kind in _QUOTES and okind in _QUOTES:
                faults.append(f"{name(e)} is a quote in {name(outer)}")
            elif kind not in _SPLITTABLE | _QUOTES and okind not in _SPLITTABLE | _QUOTES:
                faults.append(f"{name(e)} is inside {name(outer)}")
            elif kind in _QUOTES and okind not in _SPLITTABLE:
                faults.append(f"{name(e)} is a quote inside {name(outer)}")
        stack.append(e)
    return faults


# --------------------------------------------------------------------------- the server

MAX_TEXT = 4096
MAX_CAPTION = 1024
#: What a bot may upload (multipart): any file up to 50 MB, a photo up to 10 MB whose width and
#: height add up to 10000 at most, one at most 20 times the other (Bot API, sendPhoto).
MAX_UPLOAD = 50 * 1024 * 1024
MAX_PHOTO = 10 * 1024 * 1024
MAX_PHOTO_SIDES = 10000
MAX_PHOTO_RATIO = 20
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_INT_FIELDS = frozenset(
    [
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "draft_id",
        "cache_time",
        "message_thread_id",
        "reply_to_message_id",
        "from_chat_id",
    ]
)
_BOOL_FIELDS = frozenset(
    [
        "show_alert",
        "disable_notification",
        "can_stop",
        "keep_on_stop",
        "drop_pending_updates",
        "protect_content",
        "disable_web_page_preview",
    ]
)
_JSON_FIELDS = frozenset(
    [
        "reply_markup",
        "allowed_updates",
        "commands",
        "scope",
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_parameters",
    ]
)


class ManualClock:
    """A clock tests move by hand: `clock()` reads it, `advance(s)` moves it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FloodControl:
    """Per-chat token bucket like Telegram's: ~1 message/s with a small burst, then 429.

    After a refusal the chat stays blocked until retry_after has passed; calls made while
    blocked are refused again and extend nothing.
    """

    def __init__(
        self,
        *,
        rate: float = 1.0,
        burst: int = 3,
        clock: Callable[[], float] = time.monotonic,
        enabled: bool = True,
    ) -> None:
        self.rate, self.burst, self.clock, self.enabled = rate, burst, clock, enabled
        self._tokens: dict[int | str, tuple[float, float]] = {}  # chat -> (tokens, at)
        self._blocked_until: dict[int | str, float] = {}

    def configure(
        self, *, rate: float | None = None, burst: int | None = None, enabled: bool | None = None
    ) -> None:
        """Tune per test; resets the buckets."""
        if rate is not None:
            self.rate = rate
        if burst is not None:
            self.burst = burst
        if enabled is not None:
            self.enabled = enabled
        self._tokens.clear()
        self._blocked_until.clear()

    def check(self, chat: int | str) -> int | None:
        """Take one send for `chat`; return retry_after seconds if refused, else None."""
        if not self.enabled:
            return None
        now = self.clock()
        until = self._blocked_until.get(chat, 0.0)
        if now < until:
            return max(1, math.ceil(until - now))
        tokens, at = self._tokens.get(chat, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._tokens[chat] = (tokens - 1.0, now)
            return None
        wait = max(1, math.ceil((1.0 - tokens) / self.rate))
        self._blocked_until[chat] = now + wait
        self._tokens[chat] = (tokens, now)
        return wait


@dataclass
class StoredMessage:
    """One message as the chat shows it now."""

    message_id: int
    chat_id: int | str
    date: int
    from_bot: bool
    text: str | None = None  # visible text after entity parsing
    source: str | None = None  # text exactly as sent
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    document: dict[str, Any] | None = None
    photo: list[dict[str, Any]] | None = None
    caption: str | None = None
    edited: int = 0
    deleted: bool = False
    thread_id: int | None = None  # the topic it is in
    service: dict[str, Any] | None = None  # a service message's own field ("forum_topic_...")


@dataclass
class Topic:
    """A forum topic as Telegram keeps it; its id is that of the message that opened it."""

    thread_id: int
    name: str
    closed: bool = False
    icon_color: int = 0x6FB9F0  # the first of the documented icon colors


class ApiError(Exception):
    """Refusal to answer with Telegram's JSON error shape."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, JPEG, GIF or WebP, read from its header; None for anything
    else (Telegram answers IMAGE_PROCESS_FAILED to a photo it cannot read)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind = data[12:16]
        if kind == b"VP8X":
            w, h = data[24:27], data[27:30]
            return int.from_bytes(w, "little") + 1, int.from_bytes(h, "little") + 1
        if kind == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
            w, h = data[26:28], data[28:30]
            return int.from_bytes(w, "little") & 0x3FFF, int.from_bytes(h, "little") & 0x3FFF
        if kind == b"VP8L" and data[20:21] == b"\x2f":
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        return None
    if data[:2] == b"\xff\xd8":  # JPEG: the size is in the first start-of-frame segment
        i = 2
        while i + 9 <= len(data) and data[i] == 0xFF:
            marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(
                    data[i + 5 : i + 7], "big"
                )
            i += 2 + length
    return None


def png(width: int, height: int) -> bytes:
    """A real PNG of that size (1-bit grey, all black): small however large its dimensions."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    rows = (b"\x00" + b"\x00" * ((width + 7) // 8)) * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _bad(desc: str) -> ApiError:
    return ApiError(400, f"Bad Request: {desc}")


def _coerce(key: str, value: Any) -> Any:
    """Form fields arrive as strings (aiogram JSON-dumps non-strings); restore their types."""
    if not isinstance(value, str):
        return value
    if key in _INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            return value
    if key in _BOOL_FIELDS:
        return value.lower() in ("true", "1")
    if key in _JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError as e:
            raise _bad(f"can't parse {key} JSON object") from e
    return value


@dataclass
class _Fault:
    remaining: int
    status: int
    methods: frozenset[str] | None


class FakeBotAPI:
    """In-process Bot API stand-in for end-to-end tests with the real aiogram client."""

    def __init__(
        self,
        token: str = "123456:TEST-token_abcdefghijklmnop",
        *,
        clock: Callable[[], float] = time.monotonic,
        flood: FloodControl | None = None,
        strict_ampersand: bool = True,
        callback_answer_window_s: float | None = None,
        private_topics: bool = False,
    ) -> None:
        self.token = token
        self.clock = clock
        #: Telegram refuses to answer a callback query after a while ("query is too old..."),
        #: by this clock; None: never (the window is not documented).
        self.callback_answer_window_s = callback_answer_window_s
        self._callbacks: dict[str, float] = {}  # callback query id -> when it was pushed
        self._download_faults: list[int | Literal["drop"]] = []
        self.flood = flood or FloodControl(clock=clock)
        self.strict_ampersand = strict_ampersand
        self.bot_id = int(token.split(":")[0])
        self.bot_user = {
            "id": int(token.split(":")[0]), "is_bot": True, "first_name": "Pocket",
            "username": "pocket_test_bot", "can_join_groups": True,
            "can_read_all_group_messages": False, "supports_inline_queries": False,
            "has_topics_enabled": private_topics, "allows_users_to_create_topics": private_topics,
        }  # fmt: skip
        #: Supergroups that are forums (``make_forum``), and every chat's topics.
        self.forums: set[int | str] = set()
        self.topics: dict[int | str, dict[int, Topic]] = {}
        #: (chat, draft id) -> the topic a draft streams in; (chat, topic, action) per action.
        self.draft_threads: dict[tuple[int | str, int], int | None] = {}
        self.chat_action_threads: list[tuple[int | str, int | None, str]] = []
        self.log: list[tuple[str, dict[str, Any], int]] = []  # (method, params, http status)
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.drafts: dict[int | str, dict[int, str]] = {}
        self.answered_callbacks: list[dict[str, Any]] = []
        self.chat_actions: list[tuple[int | str, str]] = []
        self.blocked_chats: set[int | str] = set()
        self._messages: dict[int | str, dict[int, StoredMessage]] = {}
        self._chat_types: dict[int | str, str] = {}
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._next_file = 1
        self._poll_generation = 0
        self._faults: list[_Fault] = []
        self._outage: str | None = None
        self._cond = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.waiting_polls = 0  # getUpdates requests now waiting for an update
        self._bg: set[asyncio.Task[None]] = set()
        self.draft_history: list[tuple[int, int, str]] = []
        #: (method, what) for every accepted message whose entities Telegram would change
        self.entity_faults: list[tuple[str, str]] = []
        self.base_url = ""

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> FakeBotAPI:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self._closing = True  # releases pending long polls at once
        async with self._cond:
            self._cond.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ fault injection
    def fail_next(
        self, n: int = 1, status: int = 502, *, methods: Iterable[str] | None = None
    ) -> None:
        """Answer the next `n` requests (optionally only of `methods`) with HTTP `status`."""
        names = frozenset(m.lower() for m in methods) if methods else None
        self._faults.append(_Fault(n, status, names))

    def fail_downloads(self, n: int = 1, status: int | Literal["drop"] = 404) -> None:
        """The next `n` file downloads (/file/bot<token>/...) answer HTTP `status`, or have
        their connection closed ("drop")."""
        self._download_faults.extend([status] * n)

    def set_outage(self, on: bool, kind: Literal["502", "drop"] = "502") -> None:
        """While on, every request answers 502 or has its connection closed."""
        self._outage = kind if on else None

    # ------------------------------------------------------------------ test-side API
    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """Every request received, in order, as (method, params)."""
        return [(m, p) for m, p, _ in self.log]

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        return [p for m, p, _ in self.log if m == method]

    def _chat_kind(self, chat_id: int | str) -> str:
        return self._chat_types.get(chat_id) or (
            "private" if isinstance(chat_id, int) and chat_id > 0 else "supergroup"
        )

    def _chat_obj(self, chat_id: int | str) -> dict[str, Any]:
        kind = self._chat_kind(chat_id)
        if kind == "private":
            return {"id": chat_id, "type": "private", "first_name": "User"}
        forum = {"is_forum": True} if chat_id in self.forums else {}
        return {"id": chat_id, "type": kind, "title": f"Chat {chat_id}", **forum}

    def has_topics(self, chat_id: int | str) -> bool:
        """A forum supergroup, or a private chat while the bot's topic mode is on."""
        if self._chat_kind(chat_id) == "private":
            return bool(self.bot_user["has_topics_enabled"])
        return chat_id in self.forums

    def make_forum(self, chat_id: int) -> None:
        """Turn a supergroup into a forum: it has topics (and a General one) from now on."""
        self._chat_types[chat_id] = "supergroup"
        self.forums.add(chat_id)

    def _user_obj(self, user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}

    def _new_message_id(self, chat_id: int | str) -> int:
        return max(self._messages.setdefault(chat_id, {}), default=0) + 1

    def _push_update(self, payload: dict[str, Any]) -> int:
        update_id = self._next_update
        self._next_update += 1
        self._updates.append({"update_id": update_id, **payload})
        self._wake()
        return update_id

    def _user_message(
        self,
        chat_id: int,
        user_id: int,
        chat_type: str,
        extra: dict[str, Any],
        thread_id: int | None = None,
    ) -> dict[str, Any]:
        self._chat_types.setdefault(chat_id, chat_type)
        if thread_id is not None and thread_id not in self.topics.get(chat_id, {}):
            raise ValueError(f"chat {chat_id} has no topic {thread_id} to write in")
        mid = self._new_message_id(chat_id)
        stored = StoredMessage(
            mid, chat_id, int(time.time()), False, text=extra.get("text"), thread_id=thread_id
        )
        self._messages[chat_id][mid] = stored
        return {
            "message_id": mid, "date": stored.date, "chat": self._chat_obj(chat_id),
            "from": self._user_obj(user_id), **self._in_topic(thread_id), **extra,
        }  # fmt: skip

    @staticmethod
    def _in_topic(thread_id: int | None) -> dict[str, Any]:
        """What a message in a topic says of it (General's messages say nothing)."""
        if thread_id is None:
            return {}
        return {"message_thread_id": thread_id, "is_topic_message": True}

    def push_message(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: str = "private",
        thread_id: int | None = None,
    ) -> int:
        """Queue an incoming text message (commands get a bot_command entity), in topic
        ``thread_id`` if given; return update_id."""
        extra: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            cmd = text.split()[0]
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": _u16len(cmd)}]
        msg = self._user_message(chat_id, user_id, chat_type, extra, thread_id)
        return self._push_update({"message": msg})

    # ------------------------------------------------------------------ topics, test side
    def _topic_note(
        self, chat_id: int | str, thread_id: int, field: str, value: dict[str, Any], sender: int
    ) -> int:
        """Telegram's service message about a topic, as an update (sent for the bot's own
        notes too: the Bot API skips the bot's outgoing messages, but not these)."""
        mid = thread_id if field == "forum_topic_created" else self._new_message_id(chat_id)
        stored = StoredMessage(
            mid, chat_id, int(time.time()), sender == self.bot_id,
            thread_id=thread_id, service={field: value},
        )  # fmt: skip
        self._messages.setdefault(chat_id, {})[mid] = stored
        user = self.bot_user if stored.from_bot else self._user_obj(sender)
        message = {**self._message_json(stored), "from": user}
        return self._push_update({"message": message})

    def _open_topic(self, chat_id: int | str, name: str, sender: int) -> Topic:
        thread_id = max(self._new_message_id(chat_id), 2)  # 1 is General's
        topic = Topic(thread_id, name)
        self.topics.setdefault(chat_id, {})[thread_id] = topic
        created = {"name": name, "icon_color": topic.icon_color}
        self._topic_note(chat_id, thread_id, "forum_topic_created", created, sender)
        return topic

    def push_topic_created(self, chat_id: int, user_id: int, name: str) -> int:
        """The user opens a topic by hand; return its thread id."""
        if not self.has_topics(chat_id):
            raise ValueError(f"chat {chat_id} has no topics")
        return self._open_topic(chat_id, name, user_id).thread_id

    def push_topic_edited(self, chat_id: int, user_id: int, thread_id: int, name: str) -> int:
        """The user renames a topic; return update_id."""
        self.topics[chat_id][thread_id].name = name
        return self._topic_note(chat_id, thread_id, "forum_topic_edited", {"name": name}, user_id)

    def push_topic_closed(self, chat_id: int, user_id: int, thread_id: int, closed: bool) -> int:
        """The user closes (or reopens) a topic; return update_id."""
        self.topics[chat_id][thread_id].closed = closed
        field = "forum_topic_closed" if closed else "forum_topic_reopened"
        return self._topic_note(chat_id, thread_id, field, {}, user_id)

    def thread_messages(self, chat_id: int | str, thread_id: int | None) -> list[StoredMessage]:
        """The bot's messages in one topic (None: General, or a chat without topics)."""
        return [
            m for m in self.bot_messages(chat_id) if m.thread_id == thread_id and m.service is None
        ]

    def push_callback(self, chat_id: int, user_id: int, message_id: int, data: str) -> int:
        """Queue a button press on a bot message; return update_id."""
        stored = self._messages.get(chat_id, {}).get(message_id)
        message = (
            self._message_json(stored)
            if stored is not None
            else {"message_id": message_id, "date": 0, "chat": self._chat_obj(chat_id)}
        )
        cq_id = f"cq{self._next_update}"
        self._callbacks[cq_id] = self.clock()
        cq = {
            "id": cq_id, "from": self._user_obj(user_id), "message": message,
            "chat_instance": f"ci{chat_id}", "data": data,
        }  # fmt: skip
        return self._push_update({"callback_query": cq})

    def push_draft_stop(self, chat_id: int, draft_id: int) -> int:
        """The user pressed the stop button of a streaming draft; return update_id."""
        chat = self._chat_obj(chat_id)
        return self._push_update(
            {"stopped_message_generation": {"chat": chat, "draft_id": draft_id}}
        )

    def _store_file(self, content: bytes, folder: str, name: str) -> tuple[str, str]:
        n = self._next_file
        self._next_file += 1
        file_id = f"FILE{n:06d}"
        ext = name.rsplit(".", 1)[-1] if "." in name else "bin"
        self._files[file_id] = (f"{folder}/file_{n}.{ext}", content)
        return file_id, f"U{n:06d}"

    def push_document(
        self,
        chat_id: int,
        user_id: int,
        filename: str,
        content: bytes,
        *,
        caption: str | None = None,
        mime_type: str = "application/octet-stream",
        chat_type: str = "private",
    ) -> int:
        """Queue an incoming document; its bytes are served via getFile; return update_id."""
        file_id, unique = self._store_file(content, "documents", filename)
        doc = {
            "file_id": file_id, "file_unique_id": unique, "file_name": filename,
            "mime_type": mime_type, "file_size": len(content),
        }  # fmt: skip
        extra: dict[str, Any] = {"document": doc}
        if caption:
            extra["caption"] = caption
        return self._push_update(
            {"message": self._user_message(chat_id, user_id, chat_type, extra)}
        )

    def push_photo(
        self, chat_id: int, user_id: int, content: bytes, *, caption: str | None = None
    ) -> int:
        """Queue an incoming photo (one size); return update_id."""
        file_id, unique = self._store_file(content, "photos", "photo.jpg")
        size = {"file_id": file_id, "file_unique_id": unique, "width": 640, "height": 480,
                "file_size": len(content)}  # fmt: skip
        extra: dict[str, Any] = {"photo": [size]}
        if caption:
            extra["caption"] = caption
        return self._push_update(
            {"message": self._user_message(chat_id, user_id, "private", extra)}
        )

    def push_voice(self, chat_id: int, user_id: int, content: bytes, *, duration: int = 3) -> int:
        """Queue a voice note (Telegram records them as OGG/Opus and serves them from
        ``voice/file_N.oga``); return update_id."""
        file_id, unique = self._store_file(content, "voice", "voice.oga")
        voice = {"file_id": file_id, "file_unique_id": unique, "duration": duration,
                 "mime_type": "audio/ogg", "file_size": len(content)}  # fmt: skip
        return self._push_update(
            {"message": self._user_message(chat_id, user_id, "private", {"voice": voice})}
        )

    def push_audio(
        self,
        chat_id: int,
        user_id: int,
        filename: str,
        content: bytes,
        *,
        duration: int = 3,
        mime_type: str = "audio/mpeg",
    ) -> int:
        """Queue an audio file (sent as music, not as a document); return update_id."""
        file_id, unique = self._store_file(content, "music", filename)
        audio = {"file_id": file_id, "file_unique_id": unique, "duration": duration,
                 "file_name": filename, "mime_type": mime_type,
                 "file_size": len(content)}  # fmt: skip
        return self._push_update(
            {"message": self._user_message(chat_id, user_id, "private", {"audio": audio})}
        )

    def chat_messages(self, chat_id: int | str) -> list[StoredMessage]:
        """Messages the chat shows now (after edits and deletes), oldest first."""
        return [m for _, m in sorted(self._messages.get(chat_id, {}).items()) if not m.deleted]

    def bot_messages(self, chat_id: int | str) -> list[StoredMessage]:
        """The bot's messages (its notes about topics left out)."""
        return [m for m in self.chat_messages(chat_id) if m.from_bot and m.service is None]

    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self._updates)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until predicate() holds; re-checked after every request and push."""
        async with self._cond:
            await asyncio.wait_for(self._cond.wait_for(predicate), timeout)

    def _wake(self) -> None:
        async def notify() -> None:
            async with self._cond:
                self._cond.notify_all()

        task = asyncio.get_running_loop().create_task(notify())
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    # ------------------------------------------------------------------ HTTP
    async def _params(self, request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if request.method == "POST" and request.can_read_body:
            if ctype == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    raw.update(body)
            elif ctype == "multipart/form-data":
                reader = await request.multipart()
                while (part := await reader.next()) is not None:
                    if isinstance(part, BodyPartReader) and part.name:
                        if part.filename is not None:
                            raw[part.name] = {
                                "filename": part.filename,
                                "content": await part.read(),
                            }
                        else:
                            raw[part.name] = await part.text()
            else:
                raw.update(await request.post())
        return {k: _coerce(k, v) for k, v in raw.items()}

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        try:
            if self._outage == "drop" and request.transport is not None:
                request.transport.close()
                return web.Response()
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            params = await self._params(request)
            status = 200
            try:
                self._inject_faults(method)
                result = await self._dispatch(method, params)
                body: dict[str, Any] = {"ok": True, "result": result}
            except ApiError as e:
                status = e.status
                body = {"ok": False, "error_code": e.status, "description": e.description}
                if e.parameters:
                    body["parameters"] = e.parameters
            self.log.append((method, params, status))
            return web.json_response(body, status=status)
        except ApiError as e:
            return web.json_response(
                {"ok": False, "error_code": e.status, "description": e.description}, status=e.status
            )
        finally:
            self._wake()

    def _inject_faults(self, method: str) -> None:
        if self._outage == "502":
            raise ApiError(502, "Bad Gateway")
        for fault in self._faults:
            if fault.remaining > 0 and (fault.methods is None or method.lower() in fault.methods):
                fault.remaining -= 1
                raise ApiError(
                    fault.status, "Bad Gateway" if fault.status == 502 else "Internal Server Error"
                )

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        if self._download_faults:
            fault = self._download_faults.pop(0)
            if fault == "drop" and request.transport is not None:
                request.transport.close()
                return web.Response()
            status = 502 if fault == "drop" else fault
            return web.json_response(
                {"ok": False, "error_code": status, "description": "injected fault"}, status=status
            )
        path = request.match_info["path"]
        for file_path, content in self._files.values():
            if file_path == path:
                return web.Response(body=content)
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    async def _dispatch(self, method: str, p: dict[str, Any]) -> Any:
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        return await handler(p)

    # ------------------------------------------------------------------ helpers
    def _chat(self, p: dict[str, Any]) -> int | str:
        chat: int | str | None = p.get("chat_id")
        if chat is None or chat == "":
            raise _bad("chat_id is empty")
        if chat in self.blocked_chats:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _text(
        self,
        text: Any,
        parse_mode: Any,
        limit: int,
        *,
        caption: bool = False,
        entities: Any = None,
        method: str = "",
    ) -> tuple[str, list[dict[str, Any]]]:
        """Visible text and entities as Telegram keeps them; `entities` count without a
        parse_mode (with one they are ignored, as by the Bot API)."""
        text = "" if text is None else str(text)
        mode = str(parse_mode or "").lower()
        if mode == "html":
            try:
                parsed = parse_html(text, strict_ampersand=self.strict_ampersand)
            except EntityParseError as e:
                raise _bad(f"can't parse entities: {e}") from e
            visible, kept = parsed.text, parsed.entities
        elif mode in ("markdown", "markdownv2"):  # Markdown modes: stored as plain text
            visible, kept = text, []
        elif mode == "":
            try:
                visible, kept = text, check_entities(text, entities)
            except EntityError as e:
                raise _bad(str(e)) from e
        else:
            raise _bad("unsupported parse_mode")
        if not caption and not visible.strip():
            raise _bad("message text is empty")
        if len(visible) > limit:
            raise _bad("message caption is too long" if caption else "message is too long")
        self.entity_faults.extend((method, fault) for fault in entity_faults(kept))
        return visible, kept

    def _thread(self, chat: int | str, p: dict[str, Any], *, sending: bool = True) -> int | None:
        """The topic ``message_thread_id`` names, refused as the Bot API does: a thread it
        cannot find (General's id 1 of a forum included, and any in a chat without topics)
        is "message thread not found"; sending into a closed topic is the server's
        TOPIC_CLOSED ("This topic was closed, you can't send messages to it anymore")."""
        thread = p.get("message_thread_id")
        if not thread:
            return None
        topic = self.topics.get(chat, {}).get(int(thread)) if self.has_topics(chat) else None
        if topic is None:
            raise _bad("message thread not found")
        if sending and topic.closed:
            raise _bad("TOPIC_CLOSED")
        return topic.thread_id

    def _topic(self, p: dict[str, Any]) -> tuple[int | str, Topic]:
        """The chat and topic a topic method names. An unknown one is refused with MTProto's
        TOPIC_ID_INVALID: the Bot API's wording for it is not documented."""
        chat = self._chat(p)
        topic = self.topics.get(chat, {}).get(int(p.get("message_thread_id") or 0))
        if topic is None:
            raise _bad("TOPIC_ID_INVALID")
        return chat, topic

    def _markup(self, markup: Any) -> dict[str, Any] | None:
        if not markup:
            return None
        for row in markup.get("inline_keyboard", []) if isinstance(markup, dict) else []:
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                    raise _bad("BUTTON_DATA_INVALID")
        return cast("dict[str, Any]", markup)

    def _flood(self, chat: int | str) -> None:
        wait = self.flood.check(chat)
        if wait is not None:
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

    def _find(self, p: dict[str, Any], action: str) -> StoredMessage:
        if p.get("inline_message_id"):
            raise _bad("inline messages are not supported by the stand-in")
        chat = self._chat(p)
        stored = self._messages.get(chat, {}).get(p.get("message_id", 0))
        if stored is None or stored.deleted:
            raise _bad(f"message to {action} not found")
        return stored

    def _message_json(self, m: StoredMessage) -> dict[str, Any]:
        out: dict[str, Any] = {
            "message_id": m.message_id, "date": m.date, "chat": self._chat_obj(m.chat_id),
        }  # fmt: skip
        if m.from_bot:
            out["from"] = self.bot_user
        if m.text is not None and m.document is None and m.photo is None:
            out["text"] = m.text
            if m.entities:
                out["entities"] = m.entities
        if m.document is not None:
            out["document"] = m.document
        if m.photo is not None:
            out["photo"] = m.photo
        if m.caption and (m.document is not None or m.photo is not None):
            out["caption"] = m.caption
        if m.reply_markup:
            out["reply_markup"] = m.reply_markup
        if m.edited:
            out["edit_date"] = m.edited
        out |= self._in_topic(m.thread_id)
        if m.service is not None:
            out |= m.service
        return out

    # ------------------------------------------------------------------ methods
    async def _m_getme(self, p: dict[str, Any]) -> Any:
        return self.bot_user

    async def _m_deletewebhook(self, p: dict[str, Any]) -> Any:
        if p.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_getupdates(self, p: dict[str, Any]) -> Any:
        offset = int(p.get("offset") or 0)
        limit = min(max(int(p.get("limit") or 100), 1), 100)
        timeout = float(p.get("timeout") or 0)
        allowed = p.get("allowed_updates") or []
        self._poll_generation += 1
        generation = self._poll_generation
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

        def visible() -> list[dict[str, Any]]:
            return [u for u in self._updates if not allowed or any(k in u for k in allowed)]

        def done() -> bool:
            return bool(visible()) or generation != self._poll_generation or self._closing

        if timeout > 0 and not done():
            async with self._cond:
                self.waiting_polls += 1
                self._cond.notify_all()
                try:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._cond.wait_for(done), timeout)
                finally:
                    self.waiting_polls -= 1
        if generation != self._poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot "
                "instance is running",
            )
        return visible()[:limit]

    async def _m_sendmessage(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p)
        visible, entities = self._text(
            p.get("text"), p.get("parse_mode"), MAX_TEXT, entities=p.get("entities"),
            method="sendMessage",
        )  # fmt: skip
        markup = self._markup(p.get("reply_markup"))
        thread = self._thread(chat, p)
        self._flood(chat)
        mid = self._new_message_id(chat)
        stored = StoredMessage(
            mid, chat, int(time.time()), True, text=visible, source=p.get("text"),
            parse_mode=p.get("parse_mode"), entities=entities, reply_markup=markup,
            thread_id=thread,
        )  # fmt: skip
        self._messages[chat][mid] = stored
        self._drop_drafts(chat, thread)  # a sent message replaces the drafts of its topic
        return self._message_json(stored)

    def _drop_drafts(self, chat: int | str, thread: int | None) -> None:
        drafts = self.drafts.get(chat, {})
        for draft_id in [d for d in drafts if self.draft_threads.get((chat, d)) == thread]:
            del drafts[draft_id]
        if not drafts:
            self.drafts.pop(chat, None)

    async def _m_editmessagetext(self, p: dict[str, Any]) -> Any:
        stored = self._find(p, "edit")
        if not stored.from_bot:
            raise _bad("message can't be edited")
        if stored.document is not None or stored.photo is not None:
            raise _bad("there is no text in the message to edit")
        visible, entities = self._text(
            p.get("text"), p.get("parse_mode"), MAX_TEXT, entities=p.get("entities"),
            method="editMessageText",
        )  # fmt: skip
        markup = self._markup(p.get("reply_markup"))
        if (visible, entities, markup) == (stored.text, stored.entities, stored.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        self._flood(stored.chat_id)
        stored.text, stored.entities, stored.reply_markup = visible, entities, markup
        stored.source, stored.parse_mode = p.get("text"), p.get("parse_mode")
        stored.edited = int(time.time())
        return self._message_json(stored)

    async def _m_editmessagereplymarkup(self, p: dict[str, Any]) -> Any:
        stored = self._find(p, "edit")
        markup = self._markup(p.get("reply_markup"))
        if markup == stored.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        self._flood(stored.chat_id)
        stored.reply_markup = markup
        stored.edited = int(time.time())
        return self._message_json(stored)

    async def _m_deletemessage(self, p: dict[str, Any]) -> Any:
        self._find(p, "delete").deleted = True
        return True

    async def _m_sendchataction(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p)
        thread = self._thread(chat, p, sending=False)
        self.chat_actions.append((chat, str(p.get("action"))))
        self.chat_action_threads.append((chat, thread, str(p.get("action"))))
        return True

    async def _m_answercallbackquery(self, p: dict[str, Any]) -> Any:
        pushed = self._callbacks.get(str(p.get("callback_query_id") or ""))
        window = self.callback_answer_window_s
        if pushed is None or (window is not None and self.clock() - pushed > window):
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        self.answered_callbacks.append(p)
        return True

    async def _m_setmycommands(self, p: dict[str, Any]) -> Any:
        commands = p.get("commands") or []
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        for c in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(c.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(c.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(p)] = commands
        return True

    async def _m_getmycommands(self, p: dict[str, Any]) -> Any:
        return self.commands.get(self._commands_key(p), [])

    @staticmethod
    def _commands_key(p: dict[str, Any]) -> str:
        return json.dumps([p.get("scope") or {"type": "default"}, p.get("language_code") or ""])

    def _upload(self, p: dict[str, Any], field: str, folder: str) -> tuple[str, str, str, bytes]:
        """(file_id, file_unique_id, filename, bytes) of the file a send method got: uploaded
        (multipart, up to 50 MB) or a file_id of one stored already."""
        sent = p.get(field)
        if isinstance(sent, str) and sent.startswith("attach://"):
            sent = p.get(sent[len("attach://") :])
        if isinstance(sent, dict) and "content" in sent:
            filename, content = sent["filename"] or field, sent["content"]
            if len(content) > MAX_UPLOAD:
                raise ApiError(413, "Request Entity Too Large")
            file_id, unique = self._store_file(content, folder, filename)
            return file_id, unique, filename, content
        if isinstance(sent, str) and sent in self._files:
            path, content = self._files[sent]
            return sent, "U" + sent, path.rsplit("/", 1)[-1], content
        raise _bad("wrong remote file identifier specified: can't unserialize it")

    def _caption(self, p: dict[str, Any], method: str) -> str | None:
        if not p.get("caption"):
            return None
        caption, _ = self._text(
            p["caption"], p.get("parse_mode"), MAX_CAPTION, caption=True,
            entities=p.get("caption_entities"), method=method,
        )  # fmt: skip
        return caption

    async def _m_sendphoto(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p)
        file_id, unique, _, content = self._upload(p, "photo", "photos")
        if len(content) > MAX_PHOTO:
            raise _bad("PHOTO_SAVE_FILE_INVALID")
        size = image_size(content)
        if size is None:
            raise _bad("IMAGE_PROCESS_FAILED")
        width, height = size
        if width + height > MAX_PHOTO_SIDES or max(width, height) > MAX_PHOTO_RATIO * max(
            1, min(width, height)
        ):
            raise _bad("PHOTO_INVALID_DIMENSIONS")
        caption = self._caption(p, "sendPhoto")
        markup = self._markup(p.get("reply_markup"))
        thread = self._thread(chat, p)
        self._flood(chat)
        mid = self._new_message_id(chat)
        photo = [{"file_id": file_id, "file_unique_id": unique, "width": width, "height": height,
                  "file_size": len(content)}]  # fmt: skip
        stored = StoredMessage(
            mid, chat, int(time.time()), True, photo=photo, caption=caption, reply_markup=markup,
            thread_id=thread,
        )  # fmt: skip
        self._messages[chat][mid] = stored
        return self._message_json(stored)

    async def _m_senddocument(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p)
        file_id, unique, filename, content = self._upload(p, "document", "documents")
        caption = self._caption(p, "sendDocument")
        markup = self._markup(p.get("reply_markup"))
        thread = self._thread(chat, p)
        self._flood(chat)
        mid = self._new_message_id(chat)
        document = {
            "file_id": file_id, "file_unique_id": unique, "file_name": filename,
            "file_size": len(content),
        }  # fmt: skip
        stored = StoredMessage(
            mid, chat, int(time.time()), True, document=document, caption=caption,
            reply_markup=markup, thread_id=thread,
        )  # fmt: skip
        self._messages[chat][mid] = stored
        return self._message_json(stored)

    def document_content(self, file_id: str) -> bytes:
        """Bytes of a stored file (sent by the bot or pushed by a test)."""
        return self._files[file_id][1]

    async def _m_getfile(self, p: dict[str, Any]) -> Any:
        file_id = str(p.get("file_id") or "")
        if file_id not in self._files:
            raise _bad("invalid file_id")
        path, content = self._files[file_id]
        if len(content) > 20 * 1024 * 1024:
            raise _bad("file is too big")
        return {
            "file_id": file_id, "file_unique_id": "U" + file_id, "file_size": len(content),
            "file_path": path,
        }  # fmt: skip

    async def _m_sendmessagedraft(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p)
        if not isinstance(chat, int) or chat <= 0:
            raise _bad("sendMessageDraft can be used only in private chats")
        draft_id = p.get("draft_id")
        if not draft_id:
            raise _bad("draft_id must be non-zero")
        thread = self._thread(chat, p, sending=False)
        text = p.get("text") or ""
        visible = ""
        if text:
            visible, _ = self._text(
                text, p.get("parse_mode"), MAX_TEXT, caption=True, entities=p.get("entities"),
                method="sendMessageDraft",
            )  # fmt: skip
            if len(visible) > MAX_TEXT:
                raise _bad("message is too long")
        self.drafts.setdefault(chat, {})[int(draft_id)] = visible
        self.draft_threads[(chat, int(draft_id))] = thread
        self.draft_history.append((chat, int(draft_id), visible))
        return True

    # ------------------------------------------------------------------ topics
    async def _m_createforumtopic(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p)
        if not self.has_topics(chat):
            raise _bad("the chat is not a forum")  # Telegram's answer, as seen live
        name = str(p.get("name") or "")
        if not 1 <= len(name) <= 128:  # documented: "Topic name, 1-128 characters"; the
            # refusal is MTProto's, passed on as the Bot API does (its wording is not documented)
            raise _bad("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_TOO_LONG")
        topic = self._open_topic(chat, name, self.bot_id)
        return {"message_thread_id": topic.thread_id, "name": name, "icon_color": topic.icon_color}

    async def _m_editforumtopic(self, p: dict[str, Any]) -> Any:
        chat, topic = self._topic(p)
        name = str(p.get("name") or "")  # empty: "the current name of the topic will be kept"
        if len(name) > 128:
            raise _bad("TOPIC_TITLE_TOO_LONG")
        if name:
            topic.name = name
            self._topic_note(
                chat, topic.thread_id, "forum_topic_edited", {"name": name}, self.bot_id
            )
        return True

    async def _m_closeforumtopic(self, p: dict[str, Any]) -> Any:
        return self._toggle_closed(p, closed=True)

    async def _m_reopenforumtopic(self, p: dict[str, Any]) -> Any:
        return self._toggle_closed(p, closed=False)

    def _toggle_closed(self, p: dict[str, Any], *, closed: bool) -> bool:
        """Documented for forum supergroups only; a private chat gets the Bot API's refusal of
        supergroup-only methods. Closing a closed topic (its answer is not documented) is
        accepted and changes nothing."""
        chat = self._chat(p)
        if self._chat_kind(chat) == "private":
            raise _bad("method is available only for supergroups")
        chat, topic = self._topic(p)
        if topic.closed != closed:
            topic.closed = closed
            field = "forum_topic_closed" if closed else "forum_topic_reopened"
            self._topic_note(chat, topic.thread_id, field, {}, self.bot_id)
        return True
