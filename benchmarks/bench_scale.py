"""Scale: K services connected at once, each heartbeating every second, against MockGateway vs a
baseline server that answers every heartbeat with a constant ACK without parsing it.

Alternates raw, mock, raw, mock. A pass: no connection closed by the gateway (in particular no
HEARTBEAT_TIMEOUT for a service that did beat on time), every heartbeat ACKed (but the few still on
the wire when the run stops, at most 1 %), ACK p99 < 50 ms.
The script raises its soft open-files limit to the hard limit (each connection is a descriptor
on both sides).

    python benchmarks/bench_scale.py                       # 1,000 connections, 10 s, 2 rounds
    python benchmarks/bench_scale.py --connections 200 --seconds 3 --rounds 1   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys

from harness import fmt, machine, median, server, verdict

from gwtool.bench import Bench, BenchConfig, BenchResult
from gwtool.protocol.definition import load_protocol

ACK_P99_TARGET_MS = 50.0


def raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def one_run(kind: str, args: argparse.Namespace) -> tuple[BenchResult, float, float]:
    """(result, server CPU share of one core, server RSS MB) for one run against a fresh server."""
    profile = f"{args.profile}{args.profile_format}" if args.profile and kind == "mock" else None
    extra = ["--gc-stats"] if args.gc_stats else []
    if args.gc_threshold:
        extra += ["--gc-threshold", str(args.gc_threshold)]
    async with server(kind, "--heartbeat-interval", str(args.interval_ms), *extra, profile=profile) as srv:
        config = BenchConfig(
            url=srv.url, senders=0, receivers=0, idle=args.connections, duration=args.seconds,
            heartbeat_interval=args.interval_ms / 1000 if kind == "raw" else None, raw=kind == "raw",
        )  # fmt: skip
        bench = Bench(config, load_protocol())
        task = asyncio.create_task(bench.run())
        while not bench.stats.started and not task.done():  # CPU while everyone is connected and beating
            await asyncio.sleep(0.05)
        cpu0 = srv.cpu_seconds()
        result = await task
        cpu = (srv.cpu_seconds() - cpu0) / max(args.seconds, 1e-9)
        rss = srv.rss_mb()
    return result, cpu, rss


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0, help="of heartbeating once all are connected")
    parser.add_argument("--interval-ms", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", metavar="PREFIX", help="py-spy the mock gateway into PREFIX.svg (needs py-spy)")
    parser.add_argument("--gc-threshold", type=int, default=0, help="servers call gc.set_threshold(N, 50, 100)")
    parser.add_argument("--gc-stats", action="store_true", help="servers print their GC pauses (stderr)")
    parser.add_argument("--profile-format", default=".svg", choices=(".svg", ".txt", ".json"))
    args = parser.parse_args()
    limit = raise_fd_limit(2 * args.connections + 100)
    if limit < args.connections + 50:
        print(f"open-files limit {limit} is too low for {args.connections} connections")
        return 1
    timeout_code = load_protocol().close("HEARTBEAT_TIMEOUT").code

    print(f"machine: {machine()}")
    print(f"scale: {args.connections} connections heartbeating every {args.interval_ms} ms for {args.seconds:g} s,"
          f" {args.rounds} round(s), alternating raw/mock (open-files limit {limit})")  # fmt: skip
    p99s: dict[str, list[float]] = {"raw": [], "mock": []}
    ok = True
    for _ in range(args.rounds):
        for kind in ("raw", "mock"):
            result, cpu, rss = await one_run(kind, args)
            ack = result.ack_ms
            timeouts = sum(1 for _, code, _ in result.closes if code == timeout_code)
            acked, beats = ack["count"] or 0, result.heartbeats
            expected = int(args.connections * args.seconds * 1000 / args.interval_ms * 0.9)
            # every beat ACKed but those still on the wire when the run stopped (≤ 1 %)
            run_ok = not result.closes and beats >= expected and beats - acked <= max(5, beats // 100)
            if kind == "mock":
                ok &= run_ok
            p99s[kind].append(ack["p99"] or float("nan"))
            print(f"  {kind:<4} beats {beats:6d} (≥{expected}) acked {acked:6d}  ack p50 {fmt(ack['p50'])} p99 {fmt(ack['p99'])}"
                  f" max {fmt(ack['max'])} ms  closes {len(result.closes)} ({timeouts} HEARTBEAT_TIMEOUT)"
                  f"  server CPU {cpu * 100:.0f}%  RSS {rss:.0f} MB", flush=True)  # fmt: skip
    raw_p99, mock_p99 = median(p99s["raw"]), median(p99s["mock"])
    print(f"medians: ack p99 raw {raw_p99:.2f} ms, mock {mock_p99:.2f} ms")
    print(f"NO CLOSES (so no false HEARTBEAT_TIMEOUT), EVERY BEAT ACKED (mock): {verdict(ok)}")
    print(f"RATIO ack p99 mock/raw = {mock_p99 / raw_p99:.2f}x; mock p99 {mock_p99:.2f} ms (target < {ACK_P99_TARGET_MS:g} ms) "
          f"{verdict(ok and mock_p99 < ACK_P99_TARGET_MS)}")  # fmt: skip
    return 0 if ok and mock_p99 < ACK_P99_TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
