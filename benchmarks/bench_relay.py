"""Relay: P senders → C receivers of the round-robin event (sharders → commands services with
EXECUTE_COMMAND by default) through MockGateway (full validation) vs an unparsed websockets relay.

Both servers run in their own process, one at a time, alternating raw, mock, raw, mock …; the same
load generator (gwtool.bench) drives both. Two measures:
  saturation  closed loop (at most --window events in flight per sender): msg/s delivered
  fixed rate  --rate msg/s in all: end-to-end latency p50/p99 (send timestamp carried in the event)
Every run must deliver every event exactly once, with no connection closed by the server.

    python benchmarks/bench_relay.py                  # 4 → 4, 3 rounds, 5 s per run (~1 min)
    python benchmarks/bench_relay.py --quick          # 1 round, 1 s per run
    python benchmarks/bench_relay.py --profile prof   # also py-spy the mock gateway: prof-sat.svg, prof-rate.svg
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from harness import fmt, machine, median, server, verdict

from gwtool.bench import Bench, BenchConfig, BenchResult
from gwtool.protocol.definition import load_protocol

THROUGHPUT_TARGET = 0.7  # mock ≥ 0.7 × raw msg/s
P99_TARGET = 1.5  # mock p99 ≤ 1.5 × raw p99 at the fixed rate


async def one_run(kind: str, args: argparse.Namespace, rate: float, profile: str | None) -> tuple[BenchResult, float, float]:
    """One load run against a fresh server: the result, the server's and the load's CPU µs per message."""
    extra = ["--tune-malloc"] if args.tune_malloc else []
    extra += ["--gc-stats"] if args.gc_stats else []
    async with server(kind, *extra, profile=profile) as srv:
        config = BenchConfig(
            url=srv.url, senders=args.senders, receivers=args.receivers, rate=rate,
            duration=args.seconds, window=args.window, raw=kind == "raw",
        )  # fmt: skip
        cpu_before, load_before = srv.cpu_seconds(), time.process_time()
        result = await Bench(config, load_protocol()).run()
        cpu, load = srv.cpu_seconds() - cpu_before, time.process_time() - load_before
    messages = max(result.received, 1)
    return result, cpu * 1e6 / messages, load * 1e6 / messages


def clean(result: BenchResult) -> bool:
    return result.lost == 0 and result.duplicates == 0 and not result.closes


def line(kind: str, phase: str, r: BenchResult, cpu_us: float, load_us: float) -> str:
    lat = r.latency_ms
    closes = f" closes={r.closes[:3]}" if r.closes else ""
    return (
        f"  {phase:<10} {kind:<4} {r.rate:9.0f} msg/s  sent {r.sent:7d}  lost {r.lost}  dup {r.duplicates}"
        f"  p50 {fmt(lat['p50'])} ms  p99 {fmt(lat['p99'])} ms  CPU µs/msg server {cpu_us:5.1f} load {load_us:5.1f}{closes}"
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--receivers", type=int, default=4)
    parser.add_argument("--rate", type=float, default=2000, help="msg/s in all, for the latency runs")
    parser.add_argument("--seconds", type=float, default=5.0, help="of sending, per run")
    parser.add_argument("--rounds", type=int, default=3, help="raw/mock pairs per measure")
    parser.add_argument("--window", type=int, default=64, help="events in flight per sender at saturation")
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s runs")
    parser.add_argument("--profile", metavar="PREFIX", help="py-spy the mock gateway into PREFIX-sat.svg / -rate.svg")
    parser.add_argument(
        "--profile-format", default=".svg", choices=(".svg", ".txt", ".json"), help="flamegraph, collapsed stacks, speedscope"
    )
    parser.add_argument("--gc-stats", action="store_true", help="servers print their GC pauses (stderr)")
    parser.add_argument("--tune-malloc", action="store_true", help="servers set glibc's mmap threshold to 1 MiB")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 1, min(args.seconds, 1.0)

    print(f"machine: {machine()}")
    print(f"relay {args.senders} → {args.receivers}, {args.rounds} round(s) of {args.seconds:g} s, alternating raw/mock")
    figures: dict[tuple[str, str], list[BenchResult]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    all_clean = True
    for phase, rate in (("saturation", 0.0), (f"{args.rate:g}/s", args.rate)):
        for round_ in range(args.rounds):
            for kind in ("raw", "mock"):
                profile = None
                if args.profile and kind == "mock" and round_ == 0:
                    profile = f"{args.profile}-{'sat' if rate == 0 else 'rate'}{args.profile_format}"
                result, cpu_us, load_us = await one_run(kind, args, rate, profile)
                figures.setdefault((phase, kind), []).append(result)
                cpu.setdefault((phase, kind), []).append(cpu_us)
                all_clean &= clean(result)
                print(line(kind, phase, result, cpu_us, load_us), flush=True)

    sat, fixed = "saturation", f"{args.rate:g}/s"
    raw_rate = median([r.rate for r in figures[(sat, "raw")]])
    mock_rate = median([r.rate for r in figures[(sat, "mock")]])
    raw_p99 = median([r.latency_ms["p99"] or 0 for r in figures[(fixed, "raw")]])
    mock_p99 = median([r.latency_ms["p99"] or 0 for r in figures[(fixed, "mock")]])
    raw_p50 = median([r.latency_ms["p50"] or 0 for r in figures[(fixed, "raw")]])
    mock_p50 = median([r.latency_ms["p50"] or 0 for r in figures[(fixed, "mock")]])
    print("medians")
    print(f"  saturation  raw {raw_rate:.0f} msg/s ({median(cpu[(sat, 'raw')]):.1f} µs/msg)"
          f"  mock {mock_rate:.0f} msg/s ({median(cpu[(sat, 'mock')]):.1f} µs/msg)")  # fmt: skip
    print(f"  {fixed:<10}  raw p50 {raw_p50:.2f} p99 {raw_p99:.2f} ms  mock p50 {mock_p50:.2f} p99 {mock_p99:.2f} ms")
    throughput = mock_rate / raw_rate
    capacity = median(cpu[(sat, "raw")]) / median(cpu[(sat, "mock")])
    print(f"capacity (raw/mock server CPU per message at saturation) = {capacity:.2f}x: what one core would"
          " give if the load generator were not a bound too")  # fmt: skip
    p99 = mock_p99 / raw_p99 if raw_p99 else float("inf")
    print(f"ZERO LOSS (every event delivered once, no server closes): {verdict(all_clean)}")
    print(
        f"RATIO throughput mock/raw = {throughput:.2f}x (target >= {THROUGHPUT_TARGET}x) {verdict(throughput >= THROUGHPUT_TARGET)}"
    )
    print(f"RATIO p99 at {fixed} mock/raw = {p99:.2f}x (target <= {P99_TARGET}x) {verdict(p99 <= P99_TARGET)}")
    return 0 if all_clean and throughput >= THROUGHPUT_TARGET and p99 <= P99_TARGET else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
