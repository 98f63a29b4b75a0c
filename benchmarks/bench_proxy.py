"""``gwtool proxy`` as users run it (the installed command, console at its defaults, stdout a pipe
and a pseudo-terminal, each drained by a process of its own) against a bare websockets proxy
(``servers.py proxy``: forward each message, no parsing, on uvloop), both in front of the same
upstream: a fresh ``MockGateway`` (``servers.py mock``) in its own process for every run.

Load: ``gwtool.bench``, 4 sharders → 4 commands through the proxy (each event crosses it twice:
sharder → gateway, gateway → commands), alternating bare / gwtool runs:
  saturation   closed loop: msg/s delivered, zero lost
  fixed rate   2,000 msg/s: end-to-end p99 (every connection heartbeats every 50 ms meanwhile)

    python benchmarks/bench_proxy.py            # 3 rounds of saturation, 5 at 2,000/s (~5 min)
    python benchmarks/bench_proxy.py --quick    # 1 round of short runs
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench_cli import GWTOOL, HERE, spawn, stop
from harness import fmt, machine, median, server, stolen_seconds, verdict

from gwtool.bench import Bench, BenchConfig, BenchResult
from gwtool.protocol.definition import load_protocol

TARGETS = {"throughput": 0.8, "p99": 1.5}
KINDS = ("bare", "gwtool-pipe", "bare", "gwtool-tty")


class Proxied:
    """A proxy in front of ``upstream`` in its own process: the bare one, or ``gwtool proxy``."""

    def __init__(self, kind: str, upstream: str):
        if kind == "bare":
            argv = [sys.executable, str(HERE / "servers.py"), "proxy", "--upstream", upstream, "--max-seconds", "300"]
            output = "pipe"
        else:
            argv = [str(GWTOOL), "proxy", "--upstream", upstream, "--port", "0"]
            output = kind.removeprefix("gwtool-")
        self.proc, self.drain = spawn(argv, output)
        if not self.drain.ready.wait(30) or self.drain.url is None:
            stop(self.proc)
            raise RuntimeError(f"{kind} proxy did not start")
        self.url = self.drain.url

    def close(self) -> None:
        stop(self.proc)
        self.drain.done.wait(30)


async def run(kind: str, args: argparse.Namespace, rate: float, phase: str) -> BenchResult:
    async with server("mock", "--heartbeat-interval", "30000", "--hold", "100000") as upstream:
        proxied = await asyncio.to_thread(Proxied, kind, upstream.url)
        stolen = stolen_seconds()
        try:
            config = BenchConfig(
                url=proxied.url, senders=args.senders, receivers=args.receivers, rate=rate, duration=args.seconds,
                heartbeat_interval=0.05 if rate else None,
            )  # fmt: skip
            result = await Bench(config, load_protocol()).run()
        finally:
            stolen = stolen_seconds() - stolen
            await asyncio.to_thread(proxied.close)
    lat = result.latency_ms
    print(
        f"  {phase:<10} {kind:<12} {result.rate:8.0f} msg/s  lost {result.lost}  closes {len(result.closes)}"
        f"  p50 {fmt(lat['p50'])} ms  p99 {fmt(lat['p99'])} ms  stdout {proxied.drain.bytes / 1e6:.1f} MB"
        f"  stolen {stolen * 1000:.0f} ms",
        flush=True,
    )
    return result


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--receivers", type=int, default=4)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0, help="of sending, per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fixed-rounds", type=int, default=5, help="of the fixed rate: a p99 swings more than a rate")
    parser.add_argument("--quick", action="store_true", help="1 round, 2 s runs")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.fixed_rounds, args.seconds = 1, 1, 2.0
    if not GWTOOL.exists():
        sys.exit(f"{GWTOOL} not found: pip install the project into this interpreter's environment first")

    print(f"machine: {machine()}")
    print(f"command: {GWTOOL} proxy, console at its defaults; {args.rounds} round(s), {args.fixed_rounds} at {args.rate:g}/s")
    stolen = stolen_seconds()
    figures: dict[tuple[str, str], list[BenchResult]] = {}
    sat, fixed = "saturation", f"{args.rate:g}/s"
    for phase, rate, rounds in ((sat, 0.0, args.rounds), (fixed, args.rate, args.fixed_rounds)):
        for _ in range(rounds):
            for kind in KINDS:
                figures.setdefault((phase, kind), []).append(await run(kind, args, rate, phase))
    print(f"CPU stolen by other guests during the run: {stolen_seconds() - stolen:.1f} s (a quiet machine: ~0)")

    ok = all(r.lost == 0 and r.duplicates == 0 and not r.closes for results in figures.values() for r in results)
    print(f"ZERO LOSS (every event delivered once, no closes): {verdict(ok)}")
    for output in ("pipe", "tty"):
        kind = f"gwtool-{output}"
        throughput = median([r.rate for r in figures[(sat, kind)]]) / median([r.rate for r in figures[(sat, "bare")]])
        p99 = median([r.latency_ms["p99"] or 0 for r in figures[(fixed, kind)]]) / median(
            [r.latency_ms["p99"] or 0 for r in figures[(fixed, "bare")]]
        )
        for name, ratio, what in (
            ("throughput", throughput, "gwtool proxy throughput / bare proxy"),
            ("p99", p99, f"gwtool proxy end-to-end p99 at {fixed} / bare proxy"),
        ):
            target = TARGETS[name]
            passed = ratio >= target if name == "throughput" else ratio <= target
            sign = ">=" if name == "throughput" else "<="
            print(f"RATIO stdout {output:<4} {what} = {ratio:.2f}x (target {sign} {target}x) {verdict(passed)}")
            ok &= passed
    return 0 if ok else 1


if __name__ == "__main__":
    from gwtool.loop import run_on_fast_loop

    sys.exit(run_on_fast_loop(main()))  # the load on uvloop too
