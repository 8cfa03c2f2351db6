"""Chat state as a fold of its stream (written by the chat actor alone): the active session,
open questions, the updates it has handled."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from eventstore import Event

UPDATE_HANDLED = "chat.update_handled"
ACTIVE_CHANGED = "chat.active_session_changed"
QUESTION_ASKED = "chat.question_asked"
QUESTION_CLOSED = "chat.question_closed"
QUESTION_ANSWERED = "chat.question_answered"
REPLY_DELIVERED = "chat.reply_delivered"
#: Files and folders offered as buttons (``/ls``, a reply's changed files). Data: session,
#: paths (relative to its directory, folders ending in ``/``).
FILES_LISTED = "chat.files_listed"
#: A topic is a session's from now on (``thread_id``, ``session``, ``title``); see ``topics``.
TOPIC_BOUND = "chat.topic_bound"
#: Its topic was renamed in Telegram (``thread_id``, ``title``); the session keeps its name.
TOPIC_RENAMED = "chat.topic_renamed"
ACCESS_DENIED = "access.denied"


def stream_of(chat_id: int) -> str:
    return f"chat:{chat_id}"


@dataclass(frozen=True, slots=True)
class Question:
    session: str
    handle: int | None
    summary: str
    kind: str = "tool"  # tool | ask | plan
    questions: tuple[dict[str, Any], ...] = ()
    answers: dict[str, str] = field(default_factory=dict)
    allows: str = ""  # what "allow for this session" allows, in words; "" when not offered
    verbatim: str | None = None  # the block the question showed, kept in its verdict
    #: What a typed ``/allow N`` calls it. Numbers count up while any question is open and
    #: start from 1 again once none is, so a number just closed is not reused under the user.
    number: int = 0


@dataclass(frozen=True, slots=True)
class Listing:
    """Files offered as buttons. A button names the listing (its event's version) and an
    index in it, never a path: Telegram keeps 64 bytes of a button, and a path can be longer."""

    number: int
    session: str
    paths: tuple[str, ...]


#: How many listings a chat remembers: older buttons say they expired.
RECENT_LISTINGS = 32


@dataclass(frozen=True, slots=True)
class ChatState:
    chat_id: int = 0
    active: str | None = None
    questions: dict[str, Question] = field(default_factory=dict)
    #: Correlation ids of the latest updates handled, so one handed over again (a replay after
    #: a restart racing a redelivery) is handled once.
    handled: tuple[str, ...] = ()
    #: The stream's version this state was folded up to: the next append expects it.
    version: int = 0
    last_number: int = 0  # of the questions open (see ``Question.number``)
    listings: tuple[Listing, ...] = ()
    #: Thread id -> the session whose topic it is, and the topic's title (chats with topics).
    topics: dict[int, Topic] = field(default_factory=dict)
    #: Session -> its topic's thread id: where what the session says goes.
    threads: dict[str, int] = field(default_factory=dict)

    def was_handled(self, ref: str) -> bool:
        return ref in self.handled

    def listing(self, number: int) -> Listing | None:
        return next((x for x in self.listings if x.number == number), None)

    def thread_of(self, session: str) -> int | None:
        return self.threads.get(session)

    def session_in(self, thread_id: int | None) -> str | None:
        topic = self.topics.get(thread_id) if thread_id is not None else None
        return topic.session if topic is not None else None


@dataclass(frozen=True, slots=True)
class Topic:
    session: str
    title: str


#: How many handled updates a chat remembers: a replay is at most a few updates behind.
RECENT_HANDLED = 256


def evolve(state: ChatState, event: Event) -> ChatState:
    return replace(_changed(state, event), version=event.version)


def _changed(state: ChatState, event: Event) -> ChatState:
    data = event.data
    match event.type:
        case "chat.update_handled":
            handled = (*state.handled[-(RECENT_HANDLED - 1) :], data["ref"])
            return replace(state, handled=handled)
        case "chat.active_session_changed":
            return replace(state, active=data.get("session"))
        case "chat.question_asked":
            number = (state.last_number if state.questions else 0) + 1
            question = Question(
                data["session"],
                data.get("handle"),
                data.get("summary", ""),
                data.get("kind", "tool"),
                tuple(data.get("questions") or ()),
                allows=data.get("allows", ""),
                verbatim=data.get("verbatim"),
                number=number,
            )
            questions = {**state.questions, data["request_id"]: question}
            return replace(state, questions=questions, last_number=number)
        case "chat.question_answered":
            asked = state.questions.get(data["request_id"])
            if asked is None:
                return state
            answers = {**asked.answers, data["question"]: data["answer"]}
            questions = {**state.questions, data["request_id"]: replace(asked, answers=answers)}
            return replace(state, questions=questions)
        case "chat.files_listed":
            listed = Listing(event.version, data["session"], tuple(data["paths"]))
            return replace(state, listings=(*state.listings[-(RECENT_LISTINGS - 1) :], listed))
        case "chat.question_closed":
            questions = dict(state.questions)
            questions.pop(data["request_id"], None)
            return replace(state, questions=questions)
        case "chat.topic_bound":
            thread, session = data["thread_id"], data["session"]
            topics = {**state.topics, thread: Topic(session, data.get("title") or session)}
            return replace(state, topics=topics, threads={**state.threads, session: thread})
        case "chat.topic_renamed":
            bound = state.topics.get(data["thread_id"])
            if bound is None:
                return state
            renamed = replace(bound, title=data["title"])
            return replace(state, topics={**state.topics, data["thread_id"]: renamed})
    return state
