"""Tiny shared helpers for the benchmarks: options, a readable table, one JSON line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog


def parser(description: str) -> argparse.ArgumentParser:
    """Options every bench shares; also keeps debug log lines out of the figures."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--json", action="store_true", help="also print one JSON object of the figures last"
    )
    return p


@dataclass(slots=True)
class Figure:
    name: str
    value: float
    unit: str = ""
    target: str = ""


@dataclass(slots=True)
class Report:
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str = "", target: str = "") -> float:
        self.figures.append(Figure(name, value, unit, target))
        return value

    def note(self, text: str) -> None:
        self.notes.append(text)

    def as_dict(self) -> dict[str, float]:
        return {f.name: round(f.value, 3) for f in self.figures}

    def print(self, *, as_json: bool = False) -> None:
        print(table(self.title, self.figures))
        for text in self.notes:
            print(f"  * {text}")
        if as_json:
            sys.stdout.flush()
            print(json.dumps(self.as_dict(), sort_keys=True))


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def table(title: str, figures: Sequence[Figure]) -> str:
    rows = [("figure", "value", "unit", "target")]
    rows += [(f.name, fmt(f.value), f.unit, f.target) for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]

    def line(r: tuple[str, str, str, str]) -> str:
        return "  ".join(
            [r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].ljust(widths[2]), r[3]]
        ).rstrip()

    rule = "-" * (sum(widths) + 6)
    out = [title, rule, line(rows[0]), rule, *(line(r) for r in rows[1:]), rule]
    return "\n".join(out)
