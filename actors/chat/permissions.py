"""The agent's requests in the chat: tool permissions, its questions, its plans.

A session asks (``PermissionAsked``); the question is logged with the message showing it, so a
button still works after a restart; the user answers by button or by /allow, /allowall, /deny
(the only open question, or one by its number), /answer; the session says when it is closed,
and the message's buttons go. How each request looks is ``questions``' job.
"""

from __future__ import annotations

from actors.chat import approval as ap
from actors.chat import questions as q
from actors.chat import routine_texts
from actors.chat import state as cs
from actors.chat.context import ChatContext
from actors.session import messages as sm
from actors.session import notices as n

_EXPIRED = "That question was already answered or expired."
_NOT_OFFERED = (
    "Allow for this session is not offered for this request: answer it with /allow or /deny."
)


async def asked(chat: ChatContext, msg: n.PermissionAsked) -> None:
    """Ask: a request too long for one message goes as a file first, and the question says so."""
    shown = q.render(msg)
    text = shown.text
    thread = chat.state.thread_of(msg.session)  # asked in the session's topic
    if msg.routine is not None:  # an unattended run: say which, the user may be far away
        head = f"⏰ {msg.routine.label} is running unattended and waits for you:"
        text = f"{routine_texts.escaped(head) if shown.markdown else head}\n{text}"
    if shown.attachment is not None:
        file = shown.attachment
        caption = chat.label(msg.session, file.caption)
        sent = await chat.view.send_file(
            chat.chat_id, file.filename, file.data, caption, thread_id=thread
        )
        text += "\n" + (file.sent if sent is not None else file.unsent)
    handle = await chat.view.say(
        chat.chat_id,
        chat.label(msg.session, text),
        buttons=shown.buttons,
        markdown=shown.markdown,
        verbatim=shown.verbatim,
        thread_id=thread,
    )
    await chat.append(
        cs.QUESTION_ASKED,
        request_id=msg.request_id,
        session=msg.session,
        handle=handle,
        summary=msg.summary,
        kind=q.kind_of(msg.tool),
        questions=list(q.questions_of(msg.input)),
        allows=shown.allows,
        verbatim=shown.verbatim,
    )


async def answer_typed(chat: ChatContext, args: tuple[str, ...], decision: sm.Decision) -> None:
    """``/allow``, ``/allowall``, ``/deny``: with no argument the only open question (several
    are listed by number), else the one with that number, or a request id. In a session's
    topic, only that session's questions count."""
    here = chat.here()
    questions = {r: x for r, x in chat.state.questions.items() if here in (None, x.session)}
    if args and not args[0].isdigit():
        await answer(chat, args[0], decision)
        return
    if not questions:
        await chat.say("No question is waiting for an answer.")
        return
    if not args and len(questions) == 1:
        await answer(chat, next(iter(questions)), decision)
        return
    number = int(args[0]) if args else None
    found = next((rid for rid, x in questions.items() if x.number == number), None)
    if found is not None:
        await answer(chat, found, decision)
        return
    head = "Several questions are waiting:" if number is None else f"No open question is {number}."
    listed = sorted(questions.values(), key=lambda x: x.number)
    lines = [f"{x.number}. {chat.label(x.session, ap.visible(x.summary))}" for x in listed]
    example = listed[-1].number
    tail = f"Answer one with /allow {example}, /allowall {example} or /deny {example}."
    await chat.say("\n".join([head, *lines, tail]))


async def answer(chat: ChatContext, request_id: str, decision: sm.Decision) -> None:
    """Allow or deny a request; denying a plan means "keep planning", and the agent is told so."""
    question = chat.state.questions.get(request_id)
    if question is None:
        await chat.say(_EXPIRED)
        return
    if decision == "allow_session" and not question.allows:
        await chat.say(_NOT_OFFERED)
        return
    message = q.KEEP_PLANNING if question.kind == "plan" and decision == "deny" else None
    chat.tell_session(question.session, sm.PermissionAnswer(request_id, decision, message=message))


async def answer_question(chat: ChatContext, arg: str) -> None:
    """One option of one of the agent's questions; the last answer sends them all."""
    parsed = q.parse_answer(arg)
    question = chat.state.questions.get(parsed[0]) if parsed else None
    if parsed is None or question is None or parsed[1] >= len(question.questions):
        await chat.say(_EXPIRED)
        return
    request_id, qi, oi = parsed
    item = question.questions[qi]
    if oi >= len(item["options"]):
        return
    await chat.append(
        cs.QUESTION_ANSWERED,
        request_id=request_id,
        question=item["question"],
        answer=item["options"][oi],
    )
    question = chat.state.questions[request_id]
    if len(question.answers) == len(question.questions):
        updated = {"answers": dict(question.answers)}  # merged into the agent's own input
        reply = sm.PermissionAnswer(request_id, "allow", updated_input=updated)
        chat.tell_session(question.session, reply)


async def closed(chat: ChatContext, msg: n.PermissionClosed) -> None:
    """The session settled a request (answered, or timed out): its message loses its buttons."""
    question = chat.state.questions.get(msg.request_id)
    if question is None:
        return
    await chat.append(cs.QUESTION_CLOSED, request_id=msg.request_id, decision=msg.decision)
    if question.handle is not None:
        text = q.verdict(
            question.kind,
            msg.decision,
            msg.by_timeout,
            question.summary,
            question.answers,
            question.allows,
        )
        await chat.view.close_buttons(
            chat.chat_id, question.handle, text, verbatim=question.verbatim
        )
