"""Shared by the benchmark scripts: server processes, CPU time, medians, PASS/FAIL lines."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a fresh clone too

TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


@contextlib.asynccontextmanager
async def server(kind: str, *args: str, profile: str | None = None) -> AsyncIterator[Server]:
    """Run ``benchmarks/servers.py KIND ARGS`` in its own process until the block ends."""
    argv = [sys.executable, str(HERE / "servers.py"), kind, *args]
    if profile:  # py-spy samples the server while the block runs
        kind_of = {".json": "speedscope", ".txt": "raw"}.get(Path(profile).suffix, "flamegraph")
        argv = ["py-spy", "record", "--rate", "250", "--format", kind_of, "-o", profile, "--", *argv]
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(30):
            line = (await proc.stdout.readline()).decode()
            while line and not line.startswith("READY "):  # py-spy's banner comes first
                line = (await proc.stdout.readline()).decode()
        if not line.startswith("READY "):
            raise RuntimeError(f"{kind} server did not start: {line!r}")
        pid = proc.pid if not profile else _child_pid(proc.pid)
        yield Server(line.split()[1], pid)
    finally:
        proc.stdin.close()
        try:
            async with asyncio.timeout(15 if profile else 5):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


def _child_pid(pid: int) -> int:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(children[0]) if children else pid


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def machine() -> str:
    """CPUs and load average: other work on the machine skews absolute figures (ratios less so)."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load}, Python {sys.version.split()[0]}"


def stolen_seconds() -> float:
    """CPU time the hypervisor gave to other guests so far, all CPUs (/proc/stat's steal; 0 where
    there is none): a fixed-rate round with much of it measured the machine, not the server."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def run_queue_seconds(pid: int | str = "self") -> float:
    """Time this process's threads spent runnable but waiting for a CPU (taken by other work)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9
