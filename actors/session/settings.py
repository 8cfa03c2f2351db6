"""``/model``, ``/mode`` and ``/cap`` of one session: logged first, asked of the running claude,
settled once it answers (or once no process will).

The actor keeps the process and the turn; this keeps the rules, and shares the actor's log and
chat through narrow callables, so it sees the state the actor sees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors.claude import codec
from actors.session import budget
from actors.session import events as ev
from actors.session import messages as m
from actors.session.deps import Append
from actors.session.errors import SessionError
from actors.session.process import Live
from actors.session.state import SessionState, SettingRequest
from actors.session.wording import cap_set, setting_changed, setting_refused


class SettingsDesk:
    """The session's settings desk: ``state`` reads the actor's state, ``append`` logs and
    folds, ``notice`` tells the chat."""

    def __init__(
        self,
        session: str,
        default_cap: float | None,
        *,
        state: Callable[[], SessionState],
        append: Append,
        notice: Callable[[str, int | None], None],
    ) -> None:
        self.session = session
        #: The config's ``claude.max_cost_usd``, for sessions that never used ``/cap``.
        self.default_cap = default_cap
        self._state = state
        self._append = append
        self._notice = notice

    def cost_cap(self) -> budget.CostCap:
        return budget.cost_cap(self._state(), self.default_cap)

    def stale(self, live: Live | None) -> bool:
        """The running claude was started with another budget than the cap allows now."""
        if live is None:
            return False
        return budget.stale(live.budget, self._state(), self.default_cap)

    async def request(self, msg: m.ChangeSetting, new_id: Callable[[], str]) -> dict[str, Any]:
        """``/model`` or ``/mode``: log the request; returns the line that asks claude for it.

        The actor sends it at once, even while a turn runs, not held until it ends: claude
        answers at once and uses the new model or mode from the agent's next step. Someone who
        switches to acceptEdits while the agent edits file after file, or to a faster model
        during a long turn, means "from now on"; held back, the switch would miss the very turn
        they are watching (and /stop is there to end it). Without a process the change is only
        recorded (``settle_all``): every start passes the latest choice as ``--model=`` /
        ``--permission-mode=``.
        """
        self._check_usable()
        request_id = new_id()
        await self._append(
            ev.event(
                ev.SETTING_REQUESTED,
                msg.correlation_id,
                setting=msg.setting,
                value=msg.value,
                request_id=request_id,
                **_from(msg.chat_id),
            )
        )
        if msg.setting == ev.MODEL:
            return codec.set_model_request(request_id, msg.value)
        return codec.set_permission_mode_request(request_id, msg.value)

    async def set_cap(self, msg: m.SetCostCap, live: Live | None) -> bool:
        """``/cap``: log the session's own cap and say so; True if ``live``, the running
        claude, is idle and must be stopped now.

        claude reads ``--max-budget-usd`` only when it starts (2.1.197 has no control request
        for it), so a running process keeps the budget it was started with. An idle one is
        stopped at once: the next message resumes the conversation (``--resume``) in a process
        with the new budget, which costs a process start and nothing else, and the user gets
        exactly the cap they just read back. One running a turn finishes that turn first and
        is stopped right after (the actor's turn end): cutting it would throw away the work
        being watched, and /stop is there for that. Until then a lowered cap holds from the
        next turn, and a raised one may still stop this turn at the old budget (the turn end
        says so in those words).
        """
        self._check_usable()
        await self._append(
            ev.event(ev.COST_CAP_SET, msg.correlation_id, cap_usd=msg.cap_usd, **_from(msg.chat_id))
        )
        stale, busy = self.stale(live), self._state().busy
        self._notice(cap_set(self.cost_cap(), turn_keeps_old=stale and busy), msg.chat_id)
        return stale and not busy

    async def settle(self, request: SettingRequest) -> None:
        """Log how a setting change ended and tell the chat: taken by claude, refused by it,
        or (no process answered) recorded for the next start."""
        data = {"request_id": request.request_id, "setting": request.setting}
        ref, value = request.correlation_id, request.value
        if request.error is not None:
            await self._append(
                ev.event(ev.SETTING_REFUSED, ref, value=value, error=request.error, **data)
            )
            text = setting_refused(self.session, request.setting, value, request.error)
        else:
            await self._append(ev.event(ev.SETTING_CHANGED, ref, value=value, **data))
            text = setting_changed(self.session, request.setting, value, now=request.answered)
        self._notice(text, request.chat_id)

    async def settle_all(self) -> None:
        """No process will answer the open requests (none runs, or it exited): settle them."""
        for request in self._state().setting_requests:
            await self.settle(request)

    def _check_usable(self) -> None:
        state = self._state()
        if not state.exists:
            raise SessionError(f"There is no session named {self.session}.")
        if state.status == "archived":
            raise SessionError(f"{self.session} is archived; /unarchive {self.session} first.")


def _from(chat_id: int | None) -> dict[str, int]:
    """The asking chat, for the event: where the answer goes."""
    return {} if chat_id is None else {"chat_id": chat_id}
