"""Leases with fencing tokens: who may write for what, checked by the log itself.

Several processes share one PostgreSQL log; some streams must still have one writer at a time
(a chat and its sessions are run by one worker). A **lease** is a row of ``pocketcode.leases``:
a ``key`` (what is leased, e.g. ``chat:42``), its ``holder``, a ``token`` and ``expires_at``.
Every time of a lease is the database's own clock (``clock_timestamp()``), so the holders'
clocks never have to agree. A holder keeps its leases by renewing them before they lapse; a
lapsed lease may be taken by anyone, and taking it raises its token by one, so a token names
one tenure of one holder and is never handed out twice.

**Fencing.** An append may carry a :class:`Fence` (key, token). It commits only if, in its own
transaction, that lease still holds that token and has not lapsed; otherwise it is refused with
:class:`~eventstore.errors.FencedError` and nothing of it is written (the rest of its group
commit is not affected). The check runs while the append's transaction holds the log's counter
row lock (see :mod:`eventstore.postgres`), and taking a lease over (``pgleases.Leases.acquire``)
takes that same lock. So appends and takeovers happen one after the other, never across each other:
an append that committed before a takeover is seen by the new holder (it reads after its
takeover committed), and an append after it finds the new token and is refused. A writer whose
lease lapsed, was paused, or is cut off from the database cannot write again once anyone else
holds the lease, whatever its own clock or its own idea of its lease says.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Fence:
    """The lease an append is made under: refused unless ``key`` still holds ``token``."""

    key: str
    token: int
