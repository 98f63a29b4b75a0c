"""Memory under hostile load: the installed `gwtool mock-gateway`, peak RSS (VmHWM) after
  - 100 connections that never identify, each heartbeating with ~900 KB of extra fields,
  - a sharder sending 300 events of ~900 KB while no receiver is connected (the hold),
against the same gateway idle, in the same run.

    python benchmarks/bench_memory.py
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

GWTOOL = Path(sys.executable).with_name("gwtool")
JUNK = "x" * 900_000


def peak_mb(pid: int, field: str = "VmHWM") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


async def load(url: str) -> None:
    import orjson
    from websockets.asyncio.client import connect

    from gwtool.protocol.definition import load_protocol

    proto = load_protocol()
    beat = orjson.dumps({"op": proto.op("HEARTBEAT"), "d": {"heapUsed": 1, "junk": JUNK}}).decode()
    idle = []
    for _ in range(100):
        ws = await connect(url, compression=None, proxy=None, max_size=None)
        await ws.recv()
        await ws.send(beat)
        await ws.recv()
        idle.append(ws)
    sharder = await connect(url, compression=None, proxy=None, max_size=None)
    await sharder.recv()
    await sharder.send(orjson.dumps({"op": proto.op("IDENTIFY"), "d": {"type": "sharder", "token": ""}}).decode())
    await sharder.recv()
    event = {"op": proto.op("EVENT"), "t": "EXECUTE_COMMAND", "d": {**proto.events["EXECUTE_COMMAND"].example, "raw": JUNK}}
    frame = orjson.dumps(event).decode()
    for _ in range(300):
        await sharder.send(frame)
    await sharder.send(orjson.dumps({"op": proto.op("HEARTBEAT"), "d": {"heapUsed": 1, "guilds": 0}}).decode())
    while orjson.loads(await sharder.recv()).get("op") != proto.op("HEARTBEAT_ACK"):
        pass
    for ws in (*idle, sharder):
        await ws.close()


def main() -> int:
    proc = subprocess.Popen([str(GWTOOL), "mock-gateway", "--port", "0", "-q"], stdout=subprocess.PIPE, text=True)
    try:
        url = None
        while url is None:
            match = re.search(r"ws://127\.0\.0\.1:\d+", proc.stdout.readline())
            url = match.group(0) if match else None
        idle = peak_mb(proc.pid)
        asyncio.run(load(url))
        loaded = peak_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
    # What may stay: websockets keeps each connection's last frame until the next one (its parser's
    # local), so 100 × 0.9 MB; the hold's 64 MiB of frames; nothing of the heartbeats' junk.
    bound = idle + 100 * 0.9 + 64 + 60  # + 60 MB for what is in flight at the peak (frames being parsed)
    print(f"peak RSS idle {idle:.1f} MB; after 100 × 900 KB heartbeats and 300 × 900 KB held events {loaded:.1f} MB")
    print(f"RATIO peak RSS loaded/idle = {loaded / idle:.2f}x; bound {bound:.0f} MB {'PASS' if loaded <= bound else 'FAIL'}")
    return 0 if loaded <= bound else 1


if __name__ == "__main__":
    sys.exit(main())
