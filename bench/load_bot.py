"""The bot under ``bench.load``, alone in its process: ``pocketcode run`` plus a loop-lag probe.

Started by ``bench/load.py`` as ``python -m bench.load_bot --config FILE --lag-file FILE``
with the usual environment (token, Bot API base, data dir, fake claude). It runs exactly what
``pocketcode run`` runs (``service.runner.run_telegram``) in one event loop with a probe that
sleeps 50 ms at a time and records how late it wakes up; on SIGTERM the bot shuts down as in
production and the probe's samples, ``(time.monotonic(), lag ms)``, are written as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from service.config import load_settings
from service.logs import configure_logging
from service.runner import run_telegram

TICK_S = 0.05


async def probe(samples: list[tuple[float, float]]) -> None:
    while True:
        start = time.monotonic()
        await asyncio.sleep(TICK_S)
        now = time.monotonic()
        samples.append((now, 1000 * (now - start - TICK_S)))


async def main(config: Path, lag_file: Path) -> int:
    settings = load_settings(config)
    secrets = [settings.telegram.token.get_secret_value()] if settings.telegram.token else []
    configure_logging(
        level=settings.log.level, fmt=settings.log.format, secrets=secrets, stream=sys.stdout
    )
    samples: list[tuple[float, float]] = []
    lag = asyncio.create_task(probe(samples))
    try:
        return await run_telegram(settings)
    finally:
        lag.cancel()
        lag_file.write_text(json.dumps(samples))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--lag-file", type=Path, required=True)
    args = p.parse_args()
    sys.exit(asyncio.run(main(args.config, args.lag_file)))
