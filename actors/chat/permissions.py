"""The agent's requests in the chat: tool permissions, its questions, its plans.

A session asks (``PermissionAsked``); the question is logged with the message showing it, so a
button still works after a restart; the user answers by button or by /allow, /allowall, /deny,
/answer; the session says when it is closed, and the message's buttons go. How each request
looks is ``questions``' job.
"""

from __future__ import annotations

from actors.chat import notices as n
from actors.chat import questions as q
from actors.chat import state as cs
from actors.chat.context import ChatContext
from actors.session import messages as sm

_EXPIRED = "That question was already answered or expired."


async def asked(chat: ChatContext, msg: n.PermissionAsked) -> None:
    text, buttons, markdown = q.render(msg.request_id, msg.tool, msg.summary, msg.input)
    handle = await chat.say(chat.label(msg.session, text), buttons=buttons, markdown=markdown)
    await chat.append(
        cs.QUESTION_ASKED,
        request_id=msg.request_id,
        session=msg.session,
        handle=handle,
        summary=msg.summary,
        kind=q.kind_of(msg.tool),
        questions=list(q.questions_of(msg.input)),
    )


async def answer(chat: ChatContext, request_id: str, decision: sm.Decision) -> None:
    """Allow or deny a request; denying a plan means "keep planning", and the agent is told so."""
    question = chat.state.questions.get(request_id)
    if question is None:
        await chat.say(_EXPIRED)
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
            question.kind, msg.decision, msg.by_timeout, question.summary, question.answers
        )
        await chat.view.close_buttons(chat.chat_id, question.handle, text)
