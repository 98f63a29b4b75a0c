"""A small service written for the tests of ``gwtool check service``, on websockets alone.

It is deliberately not built on gwtool's client core, so the check is not grading itself. Well
behaved by default; ``--fault NAME`` makes it misbehave in one way the check must catch.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import zlib

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

FAULTS = (
    "no-heartbeats", "ignores-requests", "reconnects-after-4004", "no-backoff", "no-guilds",
    "invalid-event", "late-first-heartbeat", "no-compression-support", "ascii-only",
)  # fmt: skip
FINAL = (4004, 4006)  # close codes after which a service must not reconnect


class Service:
    def __init__(self, kind: str, fault: str | None, compress: bool):
        self.kind, self.fault, self.compress = kind, fault, compress
        self.url, self.token = os.environ["GWTOOL_URL"], os.environ["GWTOOL_TOKEN"]
        self.attempt = 0

    def heartbeat(self) -> str:
        d = {"heapUsed": 50_000_000}
        if self.kind == "sharder" and self.fault != "no-guilds":
            d["guilds"] = 3
        return json.dumps({"op": 1, "d": d})

    async def run(self) -> None:
        while True:
            code = await self.connection()
            if code in FINAL and self.fault != "reconnects-after-4004":
                print(f"closed {code}: not reconnecting", file=sys.stderr)
                return
            delay = 0.01 if self.fault == "no-backoff" else min(2.0, 0.1 * 2**self.attempt) * random.uniform(0.6, 1.0)
            self.attempt += 1
            await asyncio.sleep(delay)

    async def connection(self) -> int | None:
        try:
            async with connect(self.url, compression=None, proxy=None) as ws:
                return await self.serve(ws)
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None
        except OSError:
            return None

    async def serve(self, ws) -> int | None:
        hello = json.loads(await ws.recv())
        interval = hello["d"]["heartbeatInterval"] / 1000
        identify = {"type": self.kind, "token": self.token}
        if self.compress:
            identify["compress"] = True
        await ws.send(json.dumps({"op": 5, "d": identify}))
        acked = asyncio.Event()
        acked.set()
        beats = None if self.fault == "no-heartbeats" else asyncio.create_task(self.beat(ws, interval, acked))
        try:
            async for frame in ws:
                if isinstance(frame, bytes):
                    if self.fault == "no-compression-support":  # gives up, and takes a while to exit
                        await ws.close(1011, "giving up")
                        await asyncio.sleep(0.3)
                        raise SystemExit(f"cannot read a binary frame: {frame[:10]!r}")
                    frame = zlib.decompress(frame)
                payload = json.loads(frame)
                if payload["op"] == 4:
                    acked.set()
                elif payload["op"] == 1 and self.fault != "ignores-requests":
                    await ws.send(self.heartbeat())
                elif payload["op"] == 2 and self.fault == "ascii-only" and not frame_is_ascii(payload.get("d")):
                    print("UnicodeEncodeError: 'ascii' codec can't encode a character of the event", file=sys.stderr, flush=True)
                    os._exit(3)  # a crash: no cleanup, no close frame
                elif payload["op"] == 2 and payload.get("t") == "IDENTIFIED":
                    self.attempt = 0
                    if self.fault == "invalid-event" and self.kind == "sharder":
                        bad = {
                            "command": "ban",
                            "raw": "",
                            "ids": {"message": "1", "author": "1", "channel": "1", "guild": "1", "shard": "one"},
                        }
                        await ws.send(json.dumps({"op": 2, "t": "EXECUTE_COMMAND", "d": bad}))
        finally:
            if beats is not None:
                beats.cancel()
        return ws.close_code

    async def beat(self, ws, interval: float, acked: asyncio.Event) -> None:
        first = 1.3 if self.fault == "late-first-heartbeat" else random.uniform(0.1, 0.5)
        await asyncio.sleep(interval * first)
        while True:
            if not acked.is_set():  # the last heartbeat got no ACK: a zombie connection
                await ws.close(4000, "no ACK for the last heartbeat")
                return
            acked.clear()
            await ws.send(self.heartbeat())
            await asyncio.sleep(interval)


def frame_is_ascii(d: object) -> bool:
    return json.dumps(d, ensure_ascii=False).isascii()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--as", dest="kind", default="commands")
    parser.add_argument("--fault", choices=FAULTS)
    parser.add_argument("--compress", action="store_true")
    args = parser.parse_args()
    fault = args.fault
    compress = args.compress or fault == "no-compression-support"
    loop = asyncio.new_event_loop()
    task = loop.create_task(Service(args.kind, fault, compress).run())
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass


if __name__ == "__main__":
    main()
