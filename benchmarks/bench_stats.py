"""``gwtool stats`` of a large recording against the least a reader of it must do.

The installed ``gwtool stats FILE --json`` on a gateway-side recording of ``--records`` lines
(1,000,000 by default: a sharder's events in, each forwarded to a commands service, heartbeats and
their ACKs, a connection's notices), against a minimal loop in a fresh Python: read each line and
``orjson.loads`` it, nothing else. Both are subprocesses, started alike (start-up counted in both),
run alternately ``--rounds`` times; the medians are compared. The peak RSS of each is printed too
(``gwtool stats`` streams: its memory does not grow with the file).

Target: ``gwtool stats`` ≤ 2× the loop.

    python benchmarks/bench_stats.py [--records N] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from gwtool.console import ndjson  # noqa: E402
from gwtool.logfile import header, header_line  # noqa: E402
from gwtool.protocol.definition import load_protocol  # noqa: E402
from gwtool.protocol.examples import event_payload, heartbeat_payload  # noqa: E402
from gwtool.records import Forward, Notice, Record  # noqa: E402

GWTOOL = shutil.which("gwtool") or str(Path(sys.executable).with_name("gwtool"))
TARGET = 2.0
LOOP = (
    "import orjson,sys\nn=0\nwith open(sys.argv[1],'rb') as f:\n    for line in f:\n        orjson.loads(line); n+=1\nprint(n)\n"
)


def write_recording(path: Path, lines: int) -> None:
    """A gateway's recording of ``lines`` records (the header besides)."""
    proto = load_protocol(use_env=False)
    event, beat = event_payload(proto, "EXECUTE_COMMAND"), heartbeat_payload(proto, "sharder")
    ack = {"op": proto.op("HEARTBEAT_ACK"), "d": {}}
    t0 = time.time() - lines / 1000
    with path.open("wb") as out:
        out.write(header_line(header(proto, side="gateway", command="mock-gateway", url="ws://127.0.0.1:8765")))
        chunk = []
        for i in range(lines):
            ts, conn, kind = t0 + i / 1000, 1 + (i // 1000) % 8, i % 10
            if i % 100_000 == 99_999:
                item: Record | Notice = Notice("held", "held EXECUTE_COMMAND", conn, "sharder", {"t": "EXECUTE_COMMAND"}, ts=ts)
            elif kind == 8:
                item = Record("in", 60, beat, conn=conn, service="sharder", ts=ts)
            elif kind == 9:
                item = Record("out", 15, ack, conn=conn, service="sharder", ts=ts)
            else:
                item = Record("in", 232, event, conn=conn, service="sharder", ts=ts)
                item.forwards = [Forward(100 + conn, "commands", 232)]
            chunk.append(ndjson(item))
            if len(chunk) == 10_000:
                out.write(b"".join(chunk))
                chunk.clear()
        out.write(b"".join(chunk))


def peak_mb(pid: int) -> float:
    """The process's peak RSS so far (VmHWM: reset by exec, unlike ru_maxrss, which a child
    inherits from the benchmark that forked it)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def timed(args: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS MB, sampled every 20 ms) of one subprocess, its output discarded."""
    started = time.monotonic()
    peak = 0.0
    with subprocess.Popen(args, stdout=subprocess.DEVNULL) as proc:
        while proc.poll() is None:
            peak = max(peak, peak_mb(proc.pid))
            time.sleep(0.02)
    if proc.returncode:
        raise SystemExit(f"{args[0]} exited {proc.returncode}")
    return time.monotonic() - started, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "gateway.ndjson"
        write_recording(path, args.records)
        print(f"recording: {args.records:,} records, {path.stat().st_size / 1e6:.0f} MB")
        stats_runs, loop_runs = [], []
        for _ in range(args.rounds):
            stats_runs.append(timed([GWTOOL, "stats", str(path), "--json"]))
            loop_runs.append(timed([sys.executable, "-c", LOOP, str(path)]))
    stats_s, loop_s = statistics.median(s for s, _ in stats_runs), statistics.median(s for s, _ in loop_runs)
    print(f"gwtool stats --json: {stats_s:.2f} s median of {[round(s, 2) for s, _ in stats_runs]}, "
          f"peak RSS {max(m for _, m in stats_runs):.0f} MB")  # fmt: skip
    print(f"orjson loop:         {loop_s:.2f} s median of {[round(s, 2) for s, _ in loop_runs]}, "
          f"peak RSS {max(m for _, m in loop_runs):.0f} MB")  # fmt: skip
    ratio = stats_s / loop_s
    ok = ratio <= TARGET
    print(f"{'PASS' if ok else 'FAIL'}: gwtool stats / orjson loop = {ratio:.2f}× (target ≤ {TARGET:g}×)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
