"""Send the round-robin event to a gateway at a fixed rate from its own process; receivers are not ours.

    python benchmarks/feeder.py URL --rate 10000 --seconds 3 [--senders 1]

Prints ``SENT <count>`` when done (the receivers, e.g. a dashboard, do the counting).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a fresh clone too

from gwtool.bench import Bench, BenchConfig
from gwtool.protocol.definition import load_protocol


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--senders", type=int, default=1)
    args = parser.parse_args()
    config = BenchConfig(
        url=args.url, senders=args.senders, receivers=0, rate=args.rate, duration=args.seconds, counted_elsewhere=True
    )
    async with asyncio.timeout(args.seconds + 30):
        result = await Bench(config, load_protocol()).run()
    print(f"SENT {result.sent}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
