"""A session's cost cap: which one applies, and the budget a ``claude`` process is given.

Pure. The cap is enforced twice: before a turn (refused once nothing is left), and inside
claude, which is started with ``--max-budget-usd=<cap minus what earlier processes spent>``.
2.1.197 counts that budget against the process's own ``total_cost_usd`` (cumulative over its
turns, starting at 0 again in a resumed process) and checks it after every API call, so a
long agentic turn stops after the call that reaches the cap instead of running on: its
``result`` has subtype ``error_max_budget_usd``, and every later turn of that process
answers the same at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from actors.claude.choices import InvalidChoice
from actors.names import shown
from actors.session.state import SessionState

#: The ``result`` subtype of a turn claude stopped at its budget.
BUDGET_REACHED = "error_max_budget_usd"
#: A budget is cut to 1/100 of a cent, rounding down: a process never gets more than the
#: cap allows, and a remainder below that counts as nothing left.
_STEP = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class CostCap:
    """What ``/cap`` and ``/status`` show: the spend and the cap that applies."""

    session: str
    spent_usd: float
    cap_usd: float | None
    #: The cap is the config's default (``claude.max_cost_usd``), not one set with ``/cap``.
    default: bool

    @property
    def reached(self) -> bool:
        return exhausted(self.cap_usd, self.spent_usd)


def cost_cap(state: SessionState, default: float | None) -> CostCap:
    return CostCap(
        state.name, state.total_cost_usd, state.cost_cap(default), not state.cost_cap_chosen
    )


def left_usd(cap: float, spent: float) -> Decimal:
    """What is left of ``cap`` after ``spent``, rounded down to 1/100 of a cent (may be <= 0).

    Computed in decimal from the shortest repr of each float, so 5 - 0.4237 is 4.5763, not
    4.576299999.
    """
    return (Decimal(repr(cap)) - Decimal(repr(spent))).quantize(_STEP, rounding=ROUND_FLOOR)


def exhausted(cap: float | None, spent: float) -> bool:
    """Nothing (or less than 1/100 of a cent) left: no turn may start."""
    return cap is not None and left_usd(cap, spent) <= 0


def budget_arg(cap: float | None, spent: float) -> str | None:
    """The ``--max-budget-usd`` value for a process started after ``spent`` (None: no cap).

    Plain decimal, trailing zeros dropped (``5``, ``4.5763``). Not positive when the cap is
    exhausted: the CLI refuses such a value, so callers check ``exhausted`` first; the value
    still tells a running process's budget apart from the one the cap allows now.
    """
    if cap is None:
        return None
    left = left_usd(cap, spent)
    return "0" if left == 0 else format(left.normalize(), "f")


def stale(started_with: str | None, state: SessionState, default: float | None) -> bool:
    """A process started with ``--max-budget-usd=started_with`` has another budget than the
    cap allows now (``/cap`` changed it): the next turn needs a new process."""
    # cost_usd: what earlier processes spent, the base the running one's budget counts from
    return started_with != budget_arg(state.cost_cap(default), state.cost_usd)


def dollars(amount: float) -> str:
    """``$0.42``, ``$10,000.00``: what a user reads."""
    return f"${amount:,.2f}"


#: The highest cost cap ``/cap`` takes, in dollars: a typo (an extra zero or two) is refused
#: rather than taken as "no limit".
COST_CAP_MAX_USD = 10_000
_AMOUNT = re.compile(r"[0-9]{1,12}(?:\.[0-9]*)?|\.[0-9]{1,12}")
_CAP_OFF = ("off", "none")


def cost_cap_choice(text: str) -> float | None:
    """``text`` as a session's cost cap in dollars (``5``, ``2.5``, ``$2.50``), or None for
    ``off``. More than $0, at most ``COST_CAP_MAX_USD``, whole cents: anything else is refused
    in one line, never rounded (2.555 is refused, not silently made 2.56 or 2.55)."""
    if text.lower() in _CAP_OFF:
        return None
    amount = text.removeprefix("$")
    negative = amount.startswith("-")
    if not _AMOUNT.fullmatch(amount.removeprefix("-")):
        raise InvalidChoice(
            f"{shown(text)} is not an amount in dollars: use /cap 5, /cap 2.50 or /cap off."
        )
    value = Decimal(amount)
    if negative or value == 0:
        raise InvalidChoice("A cost cap must be more than $0; /cap off removes the cap.")
    if value > COST_CAP_MAX_USD:
        raise InvalidChoice(f"A cost cap can be at most ${COST_CAP_MAX_USD:,}; /cap off for none.")
    if value != value.quantize(Decimal("0.01")):
        raise InvalidChoice(f"{shown(text)} has more than 2 decimals: give dollars and cents.")
    return float(value)
