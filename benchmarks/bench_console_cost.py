"""What the console costs the gateway, layer by layer, against the unparsed relay in the same run.

bench_cli.py measures the installed ``gwtool mock-gateway`` as a whole; this splits its relay
throughput (4 sharders → 4 commands, closed loop, as bench_cli's saturation runs) into what each
layer of the console adds, each server a process of its own on the wire commands' loop:

    none      MockGateway with no subscriber
    records   a subscriber that does nothing: the gateway makes a Record per frame
    quiet     WireOutput -q: the hand-off, nothing printed
    pipe      WireOutput at its defaults, stdout a pipe: a plain line per payload
    gwtool    the installed ``gwtool mock-gateway``, stdout a pipe, then a pseudo-terminal

It prints msg/s, the ratio to the raw relay and the server's CPU µs per message (from /proc), medians
of the rounds.

    python benchmarks/bench_console_cost.py             # 3 rounds of 3 s runs (~2 min)
    python benchmarks/bench_console_cost.py --rounds 1
"""

from __future__ import annotations

import argparse
import sys

import bench_cli
from harness import Server as Proc
from harness import machine, median

LAYERS = ("none", "records", "quiet", "pipe")


class Run(bench_cli.Server):
    """One server process: the raw relay, a layer of servers.py, or the installed command."""

    @staticmethod
    def command(kind: str, greet: bool) -> tuple[list[str], str]:
        if kind in LAYERS:
            return [sys.executable, str(bench_cli.HERE / "servers.py"), "layer", "--layer", kind, "--max-seconds", "300"], "pipe"
        return bench_cli.Server.command(kind, greet)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    load = argparse.Namespace(senders=4, receivers=4, seconds=args.seconds)
    kinds = ("raw", *LAYERS, "gwtool-pipe", "gwtool-tty")
    rates: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    print(f"machine: {machine()}")
    for _ in range(args.rounds):
        for kind in kinds:
            run = Run(kind)
            before = Proc(run.url, run.proc.pid).cpu_seconds()
            try:
                result = await bench_cli.load(run, load, 0.0)
                used = Proc(run.url, run.proc.pid).cpu_seconds() - before
            finally:
                run.close()
            rates.setdefault(kind, []).append(result.rate)
            cpu.setdefault(kind, []).append(1e6 * used / max(1, result.received))
            print(f"  {kind:<12} {result.rate:8.0f} msg/s  lost {result.lost}  server {cpu[kind][-1]:5.1f} µs/msg", flush=True)
    raw = median(rates["raw"])
    for kind in kinds:
        print(f"RATIO {kind:<12} {median(rates[kind]) / raw:.2f}x raw  server {median(cpu[kind]):5.1f} µs/msg")
    return 0


if __name__ == "__main__":
    from gwtool.loop import run_on_fast_loop

    sys.exit(run_on_fast_loop(main()))  # the load on uvloop too: the raw relay's ceiling is not our load
