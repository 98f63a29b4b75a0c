"""Recordings as users open and replay them: the installed ``gwtool`` as subprocesses.

1. ``gwtool tui --open`` of a recording of ``--records`` lines (1,000,000 by default) in a pseudo-
   terminal: the time until its first screen shows the stream, and its RSS then and once the pass
   over the whole file is done. Baseline, in the same run: the same command on a 1,000-line
   recording (what start-up alone costs).
2. ``gwtool replay --asap`` of a ``send --repeat`` recording against ``gwtool mock-gateway -q``,
   against ``gwtool send --repeat`` of as many events: payloads per second of each, alternating.

Targets: first screen ≤ 3 s; RSS after the whole-file pass ≤ 1.5 × the 1,000-line one + 50 MB
(bounded: the stream keeps the last --keep lines); replay --asap ≥ 0.5 × send --repeat.

    python benchmarks/bench_recording.py [--records N] [--events N] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import shutil
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
from gwtool.records import Record  # noqa: E402

GWTOOL = shutil.which("gwtool") or str(Path(sys.executable).with_name("gwtool"))
FIRST_SCREEN_MARK = b"kept"  # the stream's subtitle ("… shown · … kept") is drawn with the first screen


def write_recording(path: Path, lines: int) -> None:
    """A gateway-side recording: a sharder's events in, forwarded out, heartbeats and ACKs."""
    proto = load_protocol(use_env=False)
    event, beat = event_payload(proto, "EXECUTE_COMMAND"), heartbeat_payload(proto, "sharder")
    ack = {"op": proto.op("HEARTBEAT_ACK"), "d": {}}
    t0 = time.time() - lines / 1000
    with path.open("wb") as out:
        out.write(header_line(header(proto, side="gateway", command="mock-gateway", url="ws://127.0.0.1:8765")))
        chunk = []
        for i in range(lines):
            kind = i % 10
            payload, direction = (
                (beat, "in") if kind == 8 else (ack, "out") if kind == 9 else (event, "in" if kind % 2 else "out")
            )
            chunk.append(ndjson(Record(direction, 232, payload, conn=1 + (kind % 2), service="sharder", ts=t0 + i / 1000)))
            if len(chunk) == 10_000:
                out.write(b"".join(chunk))
                chunk.clear()
        out.write(b"".join(chunk))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_in_a_terminal(path: Path, settle: float) -> tuple[float, float, float]:
    """(seconds to the first screen, RSS MB then, RSS MB after ``settle`` more seconds)."""
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    env = {**os.environ, "COLUMNS": "160", "LINES": "48", "TERM": "xterm-256color"}
    started = time.monotonic()
    proc = subprocess.Popen(
        [GWTOOL, "tui", "--open", str(path)], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
    )
    os.close(slave)
    seen, first = b"", None
    try:
        deadline = started + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    seen = (seen + os.read(master, 1 << 16))[-4096:]
                except OSError:
                    break
            if first is None and FIRST_SCREEN_MARK in seen:
                first = time.monotonic() - started
                at_first = rss_mb(proc.pid)
                settle_until = time.monotonic() + settle
            if first is not None and time.monotonic() >= settle_until:
                return first, at_first, rss_mb(proc.pid)
        raise SystemExit(f"no first screen within 60 s (read: {seen[-200:]!r})")
    finally:
        os.write(master, b"q")
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        os.close(master)


def gwtool(*args: str) -> float:
    started = time.monotonic()
    subprocess.run([GWTOOL, *args], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def replay_vs_send(events: int, rounds: int, work: Path) -> tuple[list[float], list[float]]:
    gateway = subprocess.Popen(
        [GWTOOL, "mock-gateway", "--port", "0", "-q", "--hold", str(events * 4)], stdout=subprocess.PIPE, text=True
    )
    try:
        url = gateway.stdout.readline().split("listening on ", 1)[1].split()[0]  # type: ignore[union-attr]
        recording = work / "send.ndjson"
        gwtool("send", "EXECUTE_COMMAND", "--url", url, "--repeat", str(events), "-q", "--log", str(recording))
        sends, replays = [], []
        for _ in range(rounds):  # alternating: drift hits both alike
            sends.append(events / gwtool("send", "EXECUTE_COMMAND", "--url", url, "--repeat", str(events), "-q"))
            replays.append(events / gwtool("replay", str(recording), "--url", url, "--asap"))
        return sends, replays
    finally:
        gateway.terminate()
        gateway.wait(10)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=15.0, help="seconds after the first screen before the second RSS")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        big, small = work / "big.ndjson", work / "small.ndjson"
        started = time.monotonic()
        write_recording(big, args.records)
        write_recording(small, 1000)
        print(
            f"recordings written: {args.records:,} lines ({big.stat().st_size / 1e6:.0f} MB) in {time.monotonic() - started:.1f} s"
        )
        base = open_in_a_terminal(small, args.settle)
        full = open_in_a_terminal(big, args.settle)
        sends, replays = replay_vs_send(args.events, args.rounds, work)
    print(f"tui --open 1,000 lines:   first screen {base[0]:.2f} s, RSS {base[1]:.0f} MB, after the pass {base[2]:.0f} MB")
    print(
        f"tui --open {args.records:,} lines: first screen {full[0]:.2f} s, RSS {full[1]:.0f} MB, after the pass {full[2]:.0f} MB"
    )
    print("send --repeat: " + ", ".join(f"{r:,.0f}" for r in sends) + " payloads/s")
    print("replay --asap: " + ", ".join(f"{r:,.0f}" for r in replays) + " payloads/s")
    ratio = median(replays) / median(sends)
    verdicts = [
        (f"first screen {full[0]:.2f} s ({full[0] / base[0]:.2f}× the 1,000-line recording)", full[0] <= 3.0),
        (f"RSS after the pass {full[2]:.0f} MB vs {base[2]:.0f} MB", full[2] <= 1.5 * base[2] + 50),
        (f"replay --asap {ratio:.2f}× send --repeat", ratio >= 0.5),
    ]
    for text, ok in verdicts:
        print(("PASS " if ok else "FAIL ") + text)
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
