"""Shared by the benchmarks: options, figures with their targets, verdicts, one JSON line.

A figure with a target is judged PASS or FAIL; ``Report.finish`` prints the table (the target
and verdict beside each figure, a label saying what was measured), the notes, the JSON line
with ``--json``, and exits 1 when any target was missed, so a bench can fail like a test.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import structlog

#: A p99 of fewer samples is the maximum of a handful, not a percentile: it is not printed.
MIN_P99_SAMPLES = 100


def parser(description: str) -> argparse.ArgumentParser:
    """Options every bench shares; also keeps debug log lines out of the figures."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--json", action="store_true", help="also print one JSON object of the figures last"
    )
    return p


@dataclass(frozen=True, slots=True)
class Target:
    """What a figure must reach: ``value >= bound``, ``value <= bound`` or ``value == bound``."""

    op: Literal[">=", "<=", "=="]
    bound: float

    def met(self, value: float) -> bool:
        if self.op == ">=":
            return value >= self.bound
        if self.op == "<=":
            return value <= self.bound
        return value == self.bound

    def __str__(self) -> str:
        return f"{self.op} {fmt(self.bound)}"


def at_least(bound: float) -> Target:
    return Target(">=", bound)


def at_most(bound: float) -> Target:
    return Target("<=", bound)


def exactly(bound: float) -> Target:
    return Target("==", bound)


#: A figure's value: a number, a word (``cli: "real"``), or None when it could not be measured.
Value = float | str | None
V = TypeVar("V", bound=Value)


@dataclass(slots=True)
class Figure:
    name: str
    value: Value
    unit: str = ""
    label: str = ""
    target: Target | None = None

    @property
    def verdict(self) -> str:
        """PASS/FAIL against the target; "" without one. Not measured is a FAIL."""
        if self.target is None:
            return ""
        value = self.value
        if not isinstance(value, int | float) or math.isnan(value):
            return "FAIL"
        return "PASS" if self.target.met(value) else "FAIL"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass(slots=True)
class Report:
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Extra JSON members that are not figures (an object by size, say).
    extra: dict[str, Any] = field(default_factory=dict)

    def add(
        self,
        name: str,
        value: V,
        unit: str = "",
        label: str = "",
        target: Target | None = None,
    ) -> V:
        self.figures.append(Figure(name, value, unit, label, target))
        return value

    def percentiles(
        self,
        name: str,
        samples_ms: Sequence[float],
        label: str,
        *,
        p50: Target | None = None,
        p99: Target | None = None,
    ) -> None:
        """``{name}_p50_ms`` and ``{name}_p99_ms``; the p99 only from MIN_P99_SAMPLES samples."""
        n = len(samples_ms)
        counted = f"{label} ({n:,} samples)"
        self.add(f"{name}_p50_ms", percentile(samples_ms, 0.5) if n else None, "ms", counted, p50)
        if n >= MIN_P99_SAMPLES:
            self.add(f"{name}_p99_ms", percentile(samples_ms, 0.99), "ms", counted, p99)
        else:
            why = f"{counted}: p99 needs >= {MIN_P99_SAMPLES}"
            self.add(f"{name}_p99_ms", None, "ms", why, p99)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def failed(self) -> list[Figure]:
        return [f for f in self.figures if f.verdict == "FAIL"]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: _json_value(f.value) for f in self.figures}
        out.update(self.extra)
        out["failed"] = [f.name for f in self.failed()]
        return out

    def finish(self, *, as_json: bool = False) -> int:
        """Print everything; the exit status: 1 when a target was missed, else 0."""
        print(table(self.title, self.figures))
        for text in self.notes:
            print(f"  * {text}")
        judged = [f for f in self.figures if f.target is not None]
        failed = self.failed()
        if judged:
            verdict = "FAIL" if failed else "PASS"
            missed = f"; missed: {', '.join(f.name for f in failed)}" if failed else ""
            print(f"{verdict}: {len(judged) - len(failed)} of {len(judged)} targets met{missed}")
        if as_json:
            sys.stdout.flush()
            print(json.dumps(self.as_dict(), sort_keys=True))
        return 1 if failed else 0


def _json_value(value: Value) -> float | str | None:
    if isinstance(value, str) or value is None:
        return value
    return None if math.isnan(value) else round(value, 3)


def fmt(value: Value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value):
        return "nan"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def table(title: str, figures: Sequence[Figure]) -> str:
    head = ("figure", "value", "unit", "target", "", "what is measured")
    rows = [head]
    rows += [
        (f.name, fmt(f.value), f.unit, str(f.target or ""), f.verdict, f.label) for f in figures
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]

    def line(r: tuple[str, ...]) -> str:
        cells = [r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].ljust(widths[2])]
        cells += [r[3].ljust(widths[3]), r[4].ljust(widths[4]), r[5]]
        return "  ".join(cells).rstrip()

    rule = "-" * min(120, sum(widths) + 10 + max(len(r[5]) for r in rows))
    return "\n".join([title, rule, line(head), rule, *(line(r) for r in rows[1:]), rule])
