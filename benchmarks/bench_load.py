"""Load from more than one process: ``gwtool bench --processes N`` and Locust, as users run them.

1. ``gwtool bench --processes 2`` against ``--processes 1`` (the baseline, measured in the same run,
   alternating) on the same ``gwtool mock-gateway -q`` in a process of its own: delivered events
   per second at a target rate above what one generator process sends.
2. Locust: a ``gwtool locustfile`` run headless, locally and with a master and two workers, against
   the same gateway: EXECUTE_COMMAND requests per second and failures, from its CSV.

    python benchmarks/bench_load.py [--rate R] [--duration S] [--rounds N] [--users N]

On 2 cores the gateway and the load share the machine; the ratio says how much a second load
process buys here, not on a bigger machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GWTOOL = shutil.which("gwtool") or str(Path(sys.executable).with_name("gwtool"))
LOCUST = shutil.which("locust") or str(Path(sys.executable).with_name("locust"))


def start_gateway() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([GWTOOL, "mock-gateway", "--port", "0", "-q", "--hold", "0"], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    return proc, line.split("listening on ", 1)[1].split()[0]


def bench(url: str, processes: int, rate: float, duration: float) -> dict:
    done = subprocess.run(
        [GWTOOL, "bench", "--url", url, "--processes", str(processes), "--rate", str(rate), "--duration", str(duration), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def locust_run(url: str, workdir: Path, users: int, workers: int, seconds: int) -> tuple[float, int, int]:
    """(EXECUTE_COMMAND requests/s, requests, failures) of one headless run."""
    locustfile = workdir / "locustfile.py"
    locustfile.write_text(
        subprocess.run([GWTOOL, "locustfile", "--rate", "50"], capture_output=True, text=True, check=True).stdout
    )
    prefix = workdir / f"run{workers}"
    common = ["-f", str(locustfile), "--host", url, "--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds}s",
              "--csv", str(prefix), "--only-summary"]  # fmt: skip
    extra: list[subprocess.Popen] = []
    if workers:
        port = str(free_port())
        extra = [subprocess.Popen([LOCUST, "-f", str(locustfile), "--worker", "--master-host", "127.0.0.1", "--master-port", port],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]  # fmt: skip
        common += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--expect-workers", str(workers)]
    try:
        subprocess.run([LOCUST, *common], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=seconds + 60)
    finally:
        for proc in extra:
            proc.wait(30)
    with open(f"{prefix}_stats.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "EXECUTE_COMMAND")
    return float(row["Requests/s"]), int(row["Request Count"]), int(row["Failure Count"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=40_000, help="target events/s, above one generator process")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=40, help="Locust users (half sharders at 50 events/s each)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    gateway, url = start_gateway()
    try:
        runs: dict[int, list[dict]] = {1: [], 2: []}
        for _ in range(args.rounds):
            for processes in (1, 2):
                runs[processes].append(bench(url, processes, args.rate, args.duration))
                time.sleep(1)  # the gateway settles between runs
        with tempfile.TemporaryDirectory() as tmp:
            local = locust_run(url, Path(tmp), args.users, 0, 10)
            distributed = locust_run(url, Path(tmp), args.users, 2, 10)
    finally:
        gateway.terminate()
        gateway.wait(10)
    for processes, results in runs.items():
        print(f"bench --processes {processes}: " + ", ".join(f"{r['rate']:,.0f}/s (lost {r['lost']})" for r in results))
    medians = {p: sorted(r["rate"] for r in results)[len(results) // 2] for p, results in runs.items()}
    print(f"locust, 1 process: {local[0]:,.0f} EXECUTE_COMMAND/s, {local[1]:,} requests, {local[2]} failures")
    print(
        f"locust, master + 2 workers: {distributed[0]:,.0f} EXECUTE_COMMAND/s, {distributed[1]:,} requests, {distributed[2]} failures"
    )
    print(f"RATIO bench --processes 2 / --processes 1: {medians[2] / medians[1]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
