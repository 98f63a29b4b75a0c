"""The servers the benchmarks measure, each run in its own process so it has a core to itself.

    python benchmarks/servers.py raw  [--port 0] [--greet]           # the unparsed baseline relay
    python benchmarks/servers.py mock [--port 0] [--heartbeat-interval MS] [--hold N]
    python benchmarks/servers.py layer --layer none|records|quiet|pipe  # what the console costs
    python benchmarks/servers.py proxy --upstream URL             # the bare proxy gwtool proxy is measured against

Each prints ``READY <url>`` once listening, and exits when its stdin closes, on SIGTERM, or after
``--max-seconds`` (a bound, so that a lost parent never leaves a server behind).

The raw relay is the bare websockets relay a gateway is measured against: a connection at
``/<sender service>`` has every frame forwarded, unparsed, to the next connection at
``/<receiver service>`` in turn (``recv(decode=False)`` → ``send(data, text=True)``); heartbeat
frames, recognised by their first bytes only, get a constant ACK frame. No validation, no records.
It writes each frame as it forwards it; ``MockGateway`` writes a receiver's frames once per turn
of the loop (gwtool/gateway/writes.py), so in a flood it can cost less per message than this.
Every server runs on the loop the wire commands use (uvloop where installed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a fresh clone too

from gwtool.bench import Roles
from gwtool.protocol import codec
from gwtool.protocol.definition import Definition, load_protocol


async def serve_raw(proto: Definition, port: int, stopped: asyncio.Event, greet: bool = False) -> None:
    """``greet``: also send HELLO first and answer IDENTIFY with IDENTIFIED (by its first bytes), so
    that a real client (``gwtool connect``) can be measured as a receiver of the same relay."""
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    roles = Roles(proto)
    beat_prefix = b'{"op":%d,' % proto.op("HEARTBEAT")
    identify_prefix = b'{"op":%d,' % proto.op("IDENTIFY")
    ack = codec.encode({"op": proto.op("HEARTBEAT_ACK"), "d": {}})
    hello = codec.encode({"op": proto.op("HELLO"), "d": {"heartbeatInterval": 30000}})
    identified = codec.encode({"op": proto.op("EVENT"), "t": roles.identified_t, "d": {}})
    receivers: list = []
    turn = 0

    async def handler(ws) -> None:
        nonlocal turn
        role = ws.request.path.strip("/")
        forward = role == roles.sender
        if role == roles.receiver:
            receivers.append(ws)
        try:
            if greet:
                await ws.send(hello, text=True)
            while True:
                data = await ws.recv(decode=False)
                if data.startswith(beat_prefix):
                    await ws.send(ack, text=True)
                elif greet and data.startswith(identify_prefix):
                    await ws.send(identified, text=True)
                elif forward and receivers:
                    turn = (turn + 1) % len(receivers)
                    await receivers[turn].send(data, text=True)
        except ConnectionClosed:
            pass
        finally:
            if ws in receivers:
                receivers.remove(ws)

    async with serve(handler, "127.0.0.1", port, compression=None, max_size=None) as server:
        print(f"READY ws://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        await stopped.wait()


async def serve_mock(proto: Definition, port: int, stopped: asyncio.Event, interval: int, hold: int) -> None:
    from gwtool.gateway import MockGateway

    async with MockGateway(proto, port=port, heartbeat_interval=interval, hold=hold) as gw:
        print(f"READY {gw.url}", flush=True)
        await stopped.wait()


async def serve_bare_proxy(port: int, stopped: asyncio.Event, upstream: str) -> None:
    """The bare proxy ``gwtool proxy`` is measured against: each connection gets its own upstream
    connection (same path), and two pumps forward every message as it came (``recv()`` →
    ``send()``: text stays text), awaiting each send; no parsing, no records, no checks."""
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    async def pump(src, dst) -> None:
        try:
            while True:
                await dst.send(await src.recv())
        except ConnectionClosed:
            pass

    async def handler(ws) -> None:
        path = ws.request.path if ws.request else "/"
        async with connect(upstream + path, compression=None, proxy=None, max_size=None, ping_interval=None) as up:
            pumps = [asyncio.create_task(pump(ws, up)), asyncio.create_task(pump(up, ws))]
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for task in pumps:
                task.cancel()

    async with serve(handler, "127.0.0.1", port, compression=None, max_size=None, ping_interval=None) as server:
        print(f"READY ws://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        await stopped.wait()


LAYERS = ("none", "records", "quiet", "pipe")


async def serve_layer(proto: Definition, port: int, stopped: asyncio.Event, layer: str) -> None:
    """``MockGateway`` with the console's layers added one at a time, as ``mock-gateway`` runs it
    (uvloop, ``gc.freeze()``): no subscriber; one that does nothing (the gateway makes its Records);
    ``WireOutput`` quiet; ``WireOutput`` printing a line per payload to stdout (a pipe)."""
    import gc

    from gwtool.gateway import MockGateway
    from gwtool.output import WireOutput

    async with MockGateway(proto, port=port) as gw:
        output = None
        if layer == "records":
            gw.subscribe(lambda item: None)
        elif layer in ("quiet", "pipe"):
            output = WireOutput(proto, show_conn=True, quiet=layer == "quiet", terminal=False)
            gw.subscribe(output)
        gc.freeze()
        print(f"READY {gw.url}", flush=True)  # before anything the output writes
        await stopped.wait()
    if output:
        await output.aclose()


def watch_gc() -> None:
    """Time every garbage collection; print a summary on stderr at exit (--gc-stats)."""
    import atexit
    import gc
    import time

    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started = [0.0]

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append((time.perf_counter() - started[0]) * 1000)

    def report() -> None:
        for gen, ms in pauses.items():
            if ms:
                print(f"gc gen{gen}: {len(ms)} collections, max {max(ms):.2f} ms, total {sum(ms):.1f} ms", file=sys.stderr)

    gc.callbacks.append(callback)
    atexit.register(report)


def tune_malloc() -> None:
    """Keep glibc from mmap/munmap-ing asyncio's 256 KiB read buffer on every read (cpython#85451)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
    libc.mallopt(-1, 8 << 20)  # M_TRIM_THRESHOLD


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("raw", "mock", "layer", "proxy"))
    parser.add_argument("--upstream", default="ws://127.0.0.1:8765", help="proxy: the gateway to forward to")
    parser.add_argument("--layer", choices=LAYERS, default="none", help="layer: what the console adds (see serve_layer)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--heartbeat-interval", type=int, default=30000, help="ms, in HELLO (mock)")
    parser.add_argument("--hold", type=int, default=1000)
    parser.add_argument("--greet", action="store_true", help="raw: HELLO first, IDENTIFIED for IDENTIFY")
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--tune-malloc", action="store_true")
    parser.add_argument("--gc-stats", action="store_true", help="print garbage-collection pauses at exit")
    parser.add_argument("--gc-threshold", type=int, default=0, help="gc.set_threshold(N, 50, 100) (experiments)")
    args = parser.parse_args()
    if args.gc_stats:
        watch_gc()
    if args.gc_threshold:
        import gc

        gc.set_threshold(args.gc_threshold, 50, 100)
    if args.tune_malloc:
        tune_malloc()
    proto = load_protocol()
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    loop.add_signal_handler(signal.SIGINT, stopped.set)
    # stdin closing (the parent went away) also stops us
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.buffer.read1(4096) or stopped.set())
    loop.call_later(args.max_seconds, stopped.set)
    if args.kind == "raw":
        server = serve_raw(proto, args.port, stopped, args.greet)
    elif args.kind == "layer":
        server = serve_layer(proto, args.port, stopped, args.layer)
    elif args.kind == "proxy":
        server = serve_bare_proxy(args.port, stopped, args.upstream.rstrip("/"))
    else:
        server = serve_mock(proto, args.port, stopped, args.heartbeat_interval, args.hold)
    with contextlib.suppress(TimeoutError):
        await server


if __name__ == "__main__":
    from gwtool.loop import run_on_fast_loop

    run_on_fast_loop(main())  # every server on the wire commands' loop, as mock-gateway runs: a fair floor
