"""Live view: the dashboard (headless) fed by its in-process gateway, vs the same pipeline without a UI.

The app runs embedded (MockGateway + our commands client in its own process, as `gwtool tui` does);
a feeder process (benchmarks/feeder.py) sends the round-robin event at a fixed rate to the embedded
gateway. Each event reaches the stream three times (gateway in, gateway out, our client in); an
event is *counted* when our client's record of it has been drained into the stream.

  step     at each rate (alternating: pipeline without UI, then the dashboard): a pass is every
           event counted, and every key press (a tab switch, sent through the driver every
           200 ms) handled within 100 ms. Prints the highest passing rate of each.
  memory   --payloads events through the dashboard at --memory-rate (10,000/s): RSS after the
           ring buffer filled vs at the end, and every event counted.

    python benchmarks/bench_liveview.py                                   # 1,000,000 payloads
    python benchmarks/bench_liveview.py --payloads 100000 --seconds 2    # quick
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import HERE, fmt, machine, run_queue_seconds, verdict

from gwtool.bench import Roles
from gwtool.protocol.definition import load_protocol
from gwtool.records import Record

RATE_TARGET = 10_000
KEY_LIMIT_MS = 100.0
RSS_LIMIT_MB = 50.0
RATES = (2_000, 3_000, 5_000, 10_000, 15_000, 20_000, 30_000)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Counter:
    """Counts our client's records of the bench event: pushed into the feed, and drained into the stream."""

    def __init__(self, t: str):
        self.t, self.n, self.pushed = t, 0, 0

    def wrap_push(self, push: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
        def counted(side: Any, item: Any) -> None:
            if side == "you" and type(item) is Record and item.direction == "in" and item.t == self.t:
                self.pushed += 1
            push(side, item)

        return counted

    def wrap(self, drain: Callable[[], list[Any]]) -> Callable[[], list[Any]]:
        def counted() -> list[Any]:
            batch = drain()
            t = self.t
            for entry in batch:
                item = entry.item
                if entry.side == "you" and type(item) is Record and item.direction == "in" and item.t == t:
                    self.n += 1
            return batch

        return counted


async def feed(url: str, rate: float, seconds: float) -> int:
    """Run the feeder process; the number of events it sent."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "feeder.py"), url, "--rate", str(rate), "--seconds", str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(seconds + 60):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    text = out.decode()
    if proc.returncode != 0 or not text.startswith("SENT "):
        raise RuntimeError(f"feeder failed ({proc.returncode}): {text!r}")
    return int(text.split()[1])


async def wait_for(condition: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)
    return True


# --- the two pipelines ------------------------------------------------------------------------


class Headless:
    """The no-UI baseline: the same Session and Feed, drained every frame, nothing rendered."""

    def __init__(self, proto, counter: Counter):
        from gwtool.tui.app import FLUSH_SECONDS
        from gwtool.tui.feed import Feed
        from gwtool.tui.session import Session

        self.session = Session(proto, quiet=True)
        self.feed = Feed()
        self.drain = counter.wrap(self.feed.drain)
        self.period = FLUSH_SECONDS
        self.tasks: list[asyncio.Task[Any]] = []

    async def __aenter__(self) -> Headless:
        self.tasks = [asyncio.create_task(self.session.run(self.feed.push)), asyncio.create_task(self._drainer())]
        await wait_for(lambda: self.session.state is not None and self.session.state.phase == "identified", 10)
        gc.collect()
        gc.freeze()  # as the dashboard does after its first frame: a like-for-like baseline
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        gc.unfreeze()

    async def _drainer(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            self.drain()

    async def key_ms(self) -> float | None:
        return None


class Dashboard:
    """The real app, headless, with its session embedded; key presses go through the driver."""

    KEYS = (("k", "action_cursor"), ("end", "action_follow"))  # move up the stream; follow it again

    def __init__(self, proto, counter: Counter):
        from gwtool.tui.app import make_app

        self.app = make_app(proto, quiet=True)
        self.app.feed.drain = counter.wrap(self.app.feed.drain)  # type: ignore[method-assign]
        self.app.feed.push = counter.wrap_push(self.app.feed.push)  # type: ignore[method-assign]
        self.session = self.app.session
        self.painted_ms: list[float] = []  # key press → the end of the next frame painted after it
        self._ctx: Any = None
        self._presses = 0
        self._handled: float | None = None
        self._painted: float | None = None

    async def __aenter__(self) -> Dashboard:
        from gwtool.tui.widgets.stream import Stream

        self._ctx = self.app.run_test(headless=True, size=(160, 48))
        await self._ctx.__aenter__()
        await wait_for(lambda: self.session.state is not None and self.session.state.phase == "identified", 10)
        stream = self.app.query_one(Stream)
        for _, action in self.KEYS:  # note when a key's action runs, then let it run
            setattr(stream, action, self._timed(getattr(stream, action)))
        screen = self.app.screen
        screen._compositor_refresh = self._painting(screen._compositor_refresh)
        for _ in self.KEYS:  # the first use of a key builds what it shows: not what we measure
            await self.key_ms()
        self.painted_ms.clear()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._ctx.__aexit__(None, None, None)

    def _timed(self, action: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any) -> Any:
            self._handled = time.perf_counter()
            return action(*args)

        return timed

    def _painting(self, refresh: Callable[[], Any]) -> Callable[[], Any]:
        def painting() -> Any:
            result = refresh()
            if self._handled is not None and self._painted is None:
                self._painted = time.perf_counter()
            return result

        return painting

    async def key_ms(self) -> float | None:
        """Press a key as a terminal would; ms until its action ran (and, in painted_ms, was painted)."""
        from textual import events

        key, _ = self.KEYS[self._presses % 2]
        self._presses += 1
        self._handled = self._painted = None
        start = time.perf_counter()
        self.app._driver.send_message(events.Key(key, key if len(key) == 1 else None))
        if not await wait_for(lambda: self._painted is not None, 2.0, 0.002):
            return 2000.0
        self.painted_ms.append((self._painted - start) * 1000)  # type: ignore[operator]
        return (self._handled - start) * 1000  # type: ignore[operator]


async def step(pipeline: Headless | Dashboard, counter: Counter, rate: float, seconds: float) -> dict[str, Any]:
    """Feed ``rate`` events/s for ``seconds``; count them and time key presses meanwhile."""
    before = counter.n
    cpu0, wall0, waited0 = time.process_time(), time.perf_counter(), run_queue_seconds()
    feeder = asyncio.create_task(feed(pipeline.session.url, rate, seconds))
    keys: list[float] = []
    while not feeder.done():
        ms = await pipeline.key_ms()
        if ms is not None:
            keys.append(ms)
        await asyncio.wait({feeder}, timeout=0.2)
    sent = feeder.result()
    counted_all = await wait_for(lambda: counter.n - before >= sent, 5.0)
    counted = counter.n - before
    wall = time.perf_counter() - wall0
    cpu = (time.process_time() - cpu0) / wall
    waited = (run_queue_seconds() - waited0) / wall
    painted = getattr(pipeline, "painted_ms", [])
    worst = max(keys) if keys else None
    kept_up = sent >= 0.95 * rate * seconds  # the feeder did send at this rate (it may not, at the top)
    ok = kept_up and counted_all and counted == sent and (worst is None or worst <= KEY_LIMIT_MS)
    return {"rate": rate, "sent": sent, "counted": counted, "key_max": worst,
            "key_p50": statistics.median(keys) if keys else None, "ok": ok, "cpu": cpu, "waited": waited, "kept_up": kept_up,
            "painted_p50": statistics.median(painted) if painted else None,
            "painted_max": max(painted) if painted else None}  # fmt: skip


def show(kind: str, r: dict[str, Any]) -> None:
    keys = ""
    if r["key_max"] is not None:
        keys = (f"  key handled p50 {fmt(r['key_p50'], '.0f')} max {fmt(r['key_max'], '.0f')} ms,"
                f" painted p50 {fmt(r['painted_p50'], '.0f')} max {fmt(r['painted_max'], '.0f')} ms")  # fmt: skip
    print(f"  {kind:<9} {r['rate']:>7,.0f}/s  sent {r['sent']:7d}  counted {r['counted']:7d}  CPU {r['cpu'] * 100:3.0f}%"
          f" (+{r['waited'] * 100:.0f}% waiting for one)"
          f"{keys}  {verdict(r['ok'])}{'' if r['kept_up'] else ' (the feeder fell short of the rate)'}", flush=True)  # fmt: skip


async def memory(proto, counter: Counter, payloads: int, rate: float) -> tuple[float, float, float, int, int]:
    """(RSS at start, after the ring filled, at the end; events sent, events counted) for ``payloads``."""
    start = rss_mb()
    async with Dashboard(proto, counter) as dash:
        warm = min(payloads // 10, 20_000)
        sent = await feed(dash.session.url, rate, warm / rate)
        await wait_for(lambda: counter.n >= sent, 5.0)
        filled = rss_mb()
        sent += await feed(dash.session.url, rate, (payloads - warm) / rate)
        await wait_for(lambda: counter.pushed >= sent, 30.0)
        await asyncio.sleep(0.2)  # a last drain
        end = rss_mb()
    return start, filled, end, sent, counter.n


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="per rate step")
    parser.add_argument("--rates", default=",".join(map(str, RATES)), help="comma-separated events/s to try")
    parser.add_argument("--idle-seconds", type=float, default=3.0, help="to measure idle CPU")
    parser.add_argument("--memory-rate", type=float, default=RATE_TARGET, help="events/s for the memory measure")
    parser.add_argument("--payloads", type=int, default=1_000_000, help="for the memory measure (0: skip)")
    args = parser.parse_args()
    proto = load_protocol()
    counter = Counter(Roles(proto).event.t)

    print(f"machine: {machine()}")
    print(f"live view: steps of {args.seconds:g} s, alternating no-UI pipeline / dashboard")
    idle = {}
    for kind, make in (("no UI", Headless), ("dashboard", Dashboard)):
        async with make(proto, counter):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.sleep(args.idle_seconds)
            idle[kind] = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    print(f"  idle CPU  no UI {idle['no UI'] * 100:.1f}%, dashboard {idle['dashboard'] * 100:.1f}% of a core")
    best = {"no UI": 0.0, "dashboard": 0.0}
    failed: set[str] = set()
    for rate in (float(r) for r in args.rates.split(",")):
        for kind, make in (("no UI", Headless), ("dashboard", Dashboard)):
            if kind in failed:
                continue
            async with make(proto, counter) as pipeline:
                result = await step(pipeline, counter, rate, args.seconds)
            show(kind, result)
            if result["ok"]:
                best[kind] = max(best[kind], rate)
            else:
                failed.add(kind)
        if len(failed) == 2:
            break

    if args.payloads:
        rate = args.memory_rate
        counter.n = 0
        counter.pushed = 0
        start, filled, end, sent, counted = await memory(proto, counter, args.payloads, rate)
        growth = end - filled
        print(f"  memory    {sent:,} payloads at {rate:,.0f}/s: received by the dashboard {counter.pushed:,},"
              f" drained into the stream {counted:,} (the rest dropped from over-full batches);"
              f" RSS start {start:.0f} MB, ring filled {filled:.0f} MB, end {end:.0f} MB ({growth:+.1f} MB)")  # fmt: skip
    ui, base = best["dashboard"], best["no UI"]
    print(f"highest sustained rate: dashboard {ui:,.0f}/s, no UI {base:,.0f}/s (steps: {args.rates})")
    ok = ui >= RATE_TARGET
    if args.payloads:
        ok_mem = growth <= RSS_LIMIT_MB and counter.pushed == sent
        print(f"ALL {sent:,} RECEIVED BY THE DASHBOARD: {verdict(counter.pushed == sent)}")
        print(
            f"RSS growth after {sent:,} payloads: {growth:+.1f} MB (target <= +{RSS_LIMIT_MB:g} MB) {verdict(growth <= RSS_LIMIT_MB)}"
        )
        ok &= ok_mem
    ratio = ui / base if base else float("nan")
    print(f"RATIO dashboard/no-UI sustained rate = {ratio:.2f}x; dashboard {ui:,.0f}/s (target >= {RATE_TARGET:,}/s) "
          f"{verdict(ui >= RATE_TARGET)}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
