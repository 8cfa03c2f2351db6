"""Where a py-spy profile's time goes: shares by area, by function (self) and inclusive.

``py-spy record --format raw --threads --function --full-filenames`` writes collapsed stacks,
one per line:
``thread (TID): NAME;frame;frame;... COUNT`` with frames like ``func (path/file.py:LINE)``.
Run ``python -m bench.profile FILE`` on such a file, or let ``bench.load --py-spy`` do it.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
ROOT = Path(__file__).resolve().parent.parent
_STDLIB_PACKAGES = ("asyncio", "json", "logging", "concurrent", "email", "http", "urllib")


def area(frame: str) -> str:
    """The package a frame belongs to: ``aiogram``, ``asyncio``, ``service/telegram``..."""
    m = _FRAME.match(frame)
    if m is None:
        return frame
    parts = Path(m["file"]).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    if Path(m["file"]).is_relative_to(ROOT):  # ours: package/subpackage
        return "/".join(Path(m["file"]).relative_to(ROOT).parts[:-1][:2])
    if m["file"] == "<string>":
        return "dataclass __init__ (generated)"
    file = Path(m["file"])
    if file.stem == "selectors":
        return "selectors (epoll: waiting for I/O)"
    return file.parent.name if file.parent.name in _STDLIB_PACKAGES else file.stem


def short(frame: str) -> str:
    m = _FRAME.match(frame)
    if m is None:
        return frame
    return f"{m['func']} ({Path(m['file']).name})"


def summarize(path: Path, *, top: int = 20) -> str:
    threads: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        thread, *frames = stack.split(";")
        n = int(count)
        threads[thread] += n
        if not thread.endswith("MainThread") or not frames:
            continue
        own[short(frames[-1])] += n
        areas[area(frames[-1])] += n
        for name in {short(f) for f in frames}:
            inclusive[name] += n
    main = sum(n for t, n in threads.items() if t.endswith("MainThread"))
    total = sum(threads.values())
    out = [f"py-spy profile {path.name}: {total:,} samples, {main:,} on the main thread"]
    out += [f"  {100 * n / total:5.1f}%  {t}" for t, n in threads.most_common(8)]

    def block(title: str, counts: Counter[str]) -> None:
        out.append(f"main thread, {title} (% of its samples):")
        out.extend(f"  {100 * n / max(main, 1):5.1f}%  {k}" for k, n in counts.most_common(top))

    block("where the CPU is, by package (self time)", areas)
    block("top functions, self time", own)
    trunk = {k for k, n in inclusive.items() if n >= 0.9 * main}  # the loop itself: every sample
    block(
        "top functions, inclusive (with what they call; the event loop's trunk left out)",
        Counter({k: n for k, n in inclusive.items() if k not in trunk}),
    )
    return "\n".join(out)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", type=Path)
    p.add_argument("--top", type=int, default=20)
    args = p.parse_args()
    print(summarize(args.file, top=args.top))
