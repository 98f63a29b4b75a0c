"""The hand-off between the wire and whoever watches it: a terminal, a pipe, NDJSON, ``--log``.

The gateway and the client call their subscribers inside the handler that read the frame, so the
subscriber here only appends the item to a list. A drain, scheduled for the event loop's next turn
(outside any frame handler, while the records are still in the CPU's cache), turns the batch into
text or NDJSON at once, and one writer thread per stream does the blocking writes, in large chunks
gathered for ``DRAIN_SECONDS``. A slow stdout (a terminal scrolled back,
``| less``) therefore never stalls the wire: its writer falls behind, drops whole chunks past
``STDOUT_BACKLOG`` bytes, and the records it dropped are counted and reported. ``--log`` never
drops. A terminal in summary mode (a flood) counts each payload as it arrives instead of queueing
it, unless a ``--log`` needs every record. What each kind of output shows is in docs/cli.md,
"What the console prints".
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from rich.segment import Segment
from rich.text import Text

from gwtool.console import (
    PlainLines,
    ack_extra,
    clock,
    connection_name,
    format_notice,
    format_record,
    ndjson,
    plain_notice,
    route_extra,
)
from gwtool.records import Forward, Notice, Record
from gwtool.text import plural, printable_lines

if TYPE_CHECKING:
    from rich.color import ColorSystem
    from rich.console import Console

    from gwtool.protocol.definition import Definition

DRAIN_SECONDS = 0.05  # a writer gathers chunks this long between writes: a record is written at most
# this late (plus the write itself), and a flood costs twenty writes a second, not one per drain (each
# wakes the thread, whose GIL hand-offs showed in the gateway's latency: ACK p99 1.55 ms at a 10 ms
# pace, 1.09 ms at 50 ms, at 2,000 msg/s into a pipe)
GATHERED_BYTES = 64 << 10  # a writer that finds this much waiting after a write writes again at once:
# pacing a reader that only just keeps up would leave it idle and let the backlog grow past its bound
DRAIN_SLICE = 64  # items rendered per turn of the event loop at least (~0.3 ms of plain lines); see _drain
MAX_PENDING = 100_000  # past this many undrained items the subscriber drains at once (a bound)
LINES_PER_SECOND = 50  # a terminal shows a line per payload up to this rate, then a summary a second
STDOUT_BACKLOG = 8 << 20  # bytes stdout may be behind before whole chunks are dropped
STDOUT_CLOSE_SECONDS = 2.0  # at exit, how long a stuck stdout may take to take what is queued
SUMMARY_KINDS = 4  # payload kinds listed per direction in a summary line
SUMMARY_INDENT = "  "  # a summary's wrapped lines start so


@dataclass(slots=True)
class Unhidden:
    """A payload summary mode counted as it arrived, to be printed after all: a refusal followed it."""

    record: Record


@dataclass(slots=True)
class Message:
    """A line of gwtool's own (not from the wire), kept in order with the records."""

    text: str
    style: str = "dim"


Queued = Record | Notice | Message | Unhidden  # what waits for the drain


class StreamWriter:
    """A thread that writes queued chunks to a binary stream: the event loop never blocks on it.

    ``limit`` bounds the bytes queued and being written; a chunk past it is dropped whole and its
    records are counted in ``dropped``. ``limit=None`` never drops (``--log``).
    """

    def __init__(self, stream: IO[bytes], *, limit: int | None, name: str, on_broken: Callable[[], None] | None = None):
        self.stream, self.limit, self.on_broken = stream, limit, on_broken
        self.dropped = 0  # records in chunks that were dropped
        self.broken = False  # the reader went away (``| head``) or the stream failed
        self._chunks: list[bytes] = []
        self._queued = 0  # bytes queued or being written
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"gwtool-{name}-writer", daemon=True)
        self._thread.start()

    def put(self, chunk: bytes, records: int = 0) -> None:
        with self._cond:
            over = self.limit is not None and self._queued and self._queued + len(chunk) > self.limit
            if self.broken or over:  # (a chunk larger than the limit still goes when nothing waits)
                self.dropped += records
                return
            self._chunks.append(chunk)
            self._queued += len(chunk)
            self._cond.notify()

    def close(self, timeout: float | None) -> bool:
        """Write what is queued, then stop; False when that took longer than ``timeout``."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._chunks and not self._closing:
                    self._cond.wait()
                if not self._chunks:
                    return
                data = b"".join(self._chunks)  # one write for everything queued meanwhile
                self._chunks.clear()
            try:
                self.stream.write(data)
                self.stream.flush()
            except (OSError, ValueError):  # BrokenPipeError, a closed stream, a full disk
                with self._cond:
                    self.broken = True
                    self._chunks.clear()
                if self.on_broken is not None:
                    self.on_broken()
                return
            finally:
                with self._cond:
                    self._queued -= len(data)
                    behind = self._queued >= GATHERED_BYTES
            if not self._closing and not behind:
                time.sleep(DRAIN_SECONDS)  # let chunks gather: one write per pace, not one per drain


class LogOutput:
    """``--log`` alone, for front ends that print nothing (the dashboard): a subscriber that only
    appends, a drain on the loop every ``DRAIN_SECONDS`` that turns the batch into NDJSON, and a
    writer thread. It never drops."""

    def __init__(self, log: IO[bytes]):
        self._pending: list[Record | Notice] = []
        self._writer = StreamWriter(log, limit=None, name="log")
        self._scheduled = False

    def __call__(self, item: Record | Notice) -> None:
        self._pending.append(item)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(DRAIN_SECONDS, self.drain)

    def drain(self) -> None:
        batch, self._pending, self._scheduled = self._pending, [], False
        if batch:
            self._writer.put(b"".join(ndjson(item) for item in batch), len(batch))

    def close(self) -> None:
        self.drain()
        self._writer.close(None)


class Summary:
    """What a terminal in summary mode was not shown during one second."""

    def __init__(self) -> None:
        self.kinds: dict[tuple[str, object, object], int] = {}  # (direction, op, t or cache type) → payloads
        self.bytes = {"in": 0, "out": 0}
        self.count = 0  # payloads in the second
        self.hidden = 0  # of them, not printed

    def add(self, record: Record) -> None:
        """Count a payload that is not printed (one call per payload of a flood: kept short)."""
        self.count += 1
        self.hidden += 1
        payload, direction = record.payload, record.direction
        key = (direction, payload.get("op"), payload.get("t") or payload.get("type")) if payload else (direction, None, None)
        try:
            self.kinds[key] += 1
        except KeyError:
            self.kinds[key] = 1
        except TypeError:  # a hostile payload's t or type may be a list or an object
            key = (direction, None, None)
            self.kinds[key] = self.kinds.get(key, 0) + 1
        self.bytes[direction] += record.size
        if forwards := record.forwards:  # a relayed event: its forwards are payloads the gateway sent
            n = len(forwards)
            self.count += n
            self.hidden += n
            sent = ("out", key[1], key[2])
            self.kinds[sent] = self.kinds.get(sent, 0) + n
            self.bytes["out"] += sum(f.size for f in forwards)

    def named_kinds(self) -> dict[tuple[str, int | None, str | None], int]:
        """``kinds`` with an op that is not an integer and a t or type that is not a string (any
        JSON, from a hostile payload) counted as nameless."""
        named: dict[tuple[str, int | None, str | None], int] = {}
        for (direction, op, what), n in self.kinds.items():
            key = (direction, op if type(op) is int else None, what if type(what) is str else None)
            named[key] = named.get(key, 0) + n
        return named

    def lines(self, proto: Definition, seconds: float, figures: str, dropped: int, width: int) -> list[Text]:
        """``12:00:01.000 ▸ 31,204/s  ← 15,602 · 4.9 MB/s: EVENT EXECUTE_COMMAND 15,600 …``, wrapped
        between its phrases to ``width`` (not left to Rich: wrapping it costs ~0.7 ms a second)."""
        phrases = [(clock(time.time()), "dim"), (f" ▸ {self.count / seconds:,.0f} payloads/s ", "bold")]
        kinds = self.named_kinds()
        for direction, arrow in (("in", "←"), ("out", "→")):
            ranked = sorted(((n, op, what) for (way, op, what), n in kinds.items() if way == direction), key=_first, reverse=True)
            if not ranked:
                continue
            total = sum(n for n, _, _ in ranked)
            phrases.append((f" {arrow} {total:,} · {self.bytes[direction] / seconds / 1e6:.1f} MB/s:", "bold"))
            names = [f"{_kind_name(proto, op, what)} {n:,}" for n, op, what in ranked[:SUMMARY_KINDS]]
            if len(ranked) > SUMMARY_KINDS:
                names.append(f"+{len(ranked) - SUMMARY_KINDS} more")
            phrases.extend((f" {name}" if i == 0 else f" · {name}", "") for i, name in enumerate(names))
        if figures:
            phrases.append((f"  │ {figures}", "cyan"))
        phrases.append((f"  │ {self.hidden:,} not printed (--every prints each)", "yellow"))
        if dropped:
            phrases.append((f" · {dropped:,} lost by a slow terminal", "bold red"))
        return _wrap(phrases, width)


def _wrap(phrases: list[tuple[str, str]], width: int) -> list[Text]:
    """Lines of whole phrases, each under ``width`` where it can be; a new line starts indented."""
    lines, line = [], Text()
    for phrase, style in phrases:
        if line and len(line.plain) + len(phrase) > width:
            lines.append(line)
            line = Text(SUMMARY_INDENT)
            phrase = phrase.lstrip()
        line.append(phrase, style)
    lines.append(line)
    return lines


def _kind_name(proto: Definition, op: object, what: object) -> str:
    if op is None:
        return "UNDECODABLE or no opcode"
    name = proto.op_name(op)
    return f"{name} {what}" if isinstance(what, str) else name


class WireOutput:
    """Subscribe it to a gateway or client: ``gw.subscribe(output)``; ``await output.aclose()`` at the end.

    ``figures`` gives the command's own figures for summary lines (connections, heartbeat latency);
    ``hide`` keeps records or notices off stdout (not off ``--log``).
    """

    def __init__(
        self,
        proto: Definition,
        *,
        json: bool = False,
        every: bool = False,
        quiet: bool = False,
        log: IO[bytes] | None = None,
        show_conn: bool = False,
        hide: Callable[[Record | Notice], bool] | None = None,
        figures: Callable[[], str] | None = None,
        stdout: IO[bytes] | None = None,
        terminal: bool | None = None,
        on_closed: Callable[[], None] | None = None,
        backlog: int = STDOUT_BACKLOG,
        lines_per_second: int = LINES_PER_SECOND,
        window: float = 1.0,
    ):
        self.proto, self.json, self.every, self.quiet = proto, json, every, quiet
        self.show_conn, self.hide, self.figures, self.on_closed = show_conn, hide, figures, on_closed
        self._pending: deque[Queued] = deque()
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        out = stdout if stdout is not None else sys.stdout.buffer
        self.terminal = out.isatty() if terminal is None else terminal
        self._stdout = StreamWriter(out, limit=backlog, name="stdout", on_broken=self._stdout_gone)
        self.lines_per_second, self.window = lines_per_second, window  # summary mode: a line a window
        self._log = StreamWriter(log, limit=None, name="log") if log is not None else None
        # a terminal's summary mode counts payloads as they arrive, unless something needs every record
        self._counts_on_arrival = self.terminal and not (json or every or quiet) and hide is None and log is None
        self._counting_arrivals = False  # summarizing, and counting on arrival
        self._plain = PlainLines(proto, show_conn=show_conn)
        self._screen: Console | None = None  # Rich console rendering a terminal's lines to text
        self._colors: ColorSystem | None = None  # its colour system, read once (see ansi)
        self._buffer = io.StringIO()
        # summary mode (a terminal, text, not --every): see _text
        self.summarizing = False
        self.mode_changed = asyncio.Event()  # set at each switch between lines and summaries (tests wait on it)
        self._second = Summary()
        self._second_started = time.monotonic()
        self._ticker: asyncio.TimerHandle | None = None
        self._unshown: dict[int, Record] = {}  # per connection, its last payload not printed
        self._reported_drops, self._reported_at = 0, 0.0
        self._columns = 80  # the terminal's width, read once per drain
        self._ack_op = proto.op("HEARTBEAT_ACK")
        self.failures = 0  # items that could not be shown (a bug, reported once)

    # --- the subscriber: called inside frame handlers, so it only appends (or counts) ---------------

    def __call__(self, item: Record | Notice | Message) -> None:
        if self._counting_arrivals:  # summary mode: a flood's payloads are counted, never queued
            if type(item) is Record and item.payload is not None:  # (undecodable: shown in full)
                self._summarize(item)
                return
            if type(item) is Notice and (behind := self._refused(item)):
                self._pending.append(Unhidden(behind))  # the payload a refusal followed, in full
        pending = self._pending
        pending.append(item)
        if not self._scheduled:
            self._scheduled = True
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._loop.call_soon(self._drain)
        elif len(pending) >= MAX_PENDING:
            self._drain(everything=True)

    def message(self, text: str, style: str = "dim") -> None:
        """A line of gwtool's own: in order with the records, on stderr in --json mode."""
        if self.json:
            self._drain(everything=True)
            _stderr(printable_lines(text))
        elif self._loop is None and not self._scheduled:
            self._pending.append(Message(text, style))
            self._drain(everything=True)
        else:
            self(Message(text, style))

    @property
    def dropped(self) -> int:
        """Records stdout could not take (it fell behind or went away)."""
        return self._stdout.dropped

    async def aclose(self) -> None:
        """Drain, end a summary, and wait for the writers (a stuck stdout only so long)."""
        self._finish()
        await asyncio.to_thread(self._close_writers)

    def close(self) -> None:
        """``aclose`` outside a running loop."""
        self._finish()
        self._close_writers()

    def _finish(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        self._drain(everything=True)
        if self.summarizing:
            self._end_second(force=True)

    def _close_writers(self) -> None:
        stuck = not self._stdout.close(STDOUT_CLOSE_SECONDS)
        if self._log is not None:
            self._log.close(None)
        if self._stdout.dropped and not self._stdout.broken:
            why = "was still blocked at exit" if stuck else "could not keep up"
            _stderr(f"gwtool: stdout {why}: {plural(self._stdout.dropped, 'record')} not written" + self._log_hint())

    # --- the drain: runs on the loop, off the frame handlers --------------------------------------

    def _drain(self, everything: bool = False) -> None:
        """Render what is pending in slices, a slice a turn of the loop, so frames interleave.

        A slice is half of what waits (at least ``DRAIN_SLICE``): one turn of the loop can read
        hundreds of frames, and a fixed slice would fall behind until the ``MAX_PENDING`` bound
        forced a drain of everything inside a frame handler."""
        pending = self._pending
        size = max(DRAIN_SLICE, len(pending) // 2)
        if everything or len(pending) <= size:
            batch = list(pending)
            pending.clear()
            self._scheduled = False
        else:
            batch = [pending.popleft() for _ in range(size)]
            (self._loop or asyncio.get_running_loop()).call_soon(self._drain)  # still scheduled
        if not batch:
            return
        lines: list[bytes] | None = None
        if self._log is not None:
            lines = [ndjson(item) for item in batch if isinstance(item, (Record, Notice))]
            self._log.put(b"".join(lines))
        if self.json:
            shown = [item for item in batch if self._shown(item)]
            reuse = lines is not None and len(shown) == len(lines)  # the same items: the log's lines
            self._stdout.put(b"".join(lines if reuse else map(ndjson, shown)), len(shown))  # type: ignore[arg-type]
        else:
            self._text(batch)
        self._report_drops()

    def _shown(self, item: Queued) -> bool:
        if isinstance(item, (Message, Unhidden)):
            return False
        if self.hide is not None and self.hide(item):
            return False
        return isinstance(item, Notice) or not self.quiet

    def _text(self, batch: list[Queued]) -> None:
        self._columns = self._width() if self.terminal else 0
        if not self.summarizing and time.monotonic() - self._second_started >= self.window:
            self._second, self._second_started = Summary(), time.monotonic()
        out: list[str] = []
        counting, hide, quiet = self.terminal and not self.every, self.hide, self.quiet
        records, at, end = 0, 0, len(batch)
        while at < end:
            item = batch[at]
            at += 1
            try:
                if isinstance(item, Record):
                    if quiet or (hide is not None and hide(item)):
                        continue
                    if counting and self._counted(item):
                        continue
                    forwards = item.forwards or ()
                    if forwards and self.terminal:
                        self._second.count += len(forwards)  # the rate counts payloads, forwards too
                    out.append(self._record_line(item, forwards))
                    records += 1
                elif isinstance(item, Notice):
                    if hide is not None and hide(item):
                        continue
                    if behind := self._refused(item):
                        out.append(self._unhidden_line(behind))
                        records += 1
                    out.append(self._notice_line(item))
                elif isinstance(item, Unhidden):
                    out.append(self._unhidden_line(item.record))
                    records += 1
                else:
                    line = printable_lines(item.text)
                    out.append(self._render(Text(line, item.style), soft_wrap=True) if self.terminal else line)
            except Exception as exc:  # a bug in rendering must cost one line, never the wire
                self.failures += 1
                out.append(f"gwtool: could not show a {type(item).__name__}: {type(exc).__name__}: {exc}")
        if out:
            out.append("")  # the last line's newline, without copying the whole text again
            self._stdout.put("\n".join(out).encode("utf-8", "replace"), records)

    def _counted(self, record: Record) -> bool:
        """Line mode's watch on the rate and summary mode's bookkeeping; True when the record is
        summarized rather than printed."""
        second = self._second
        if not self.summarizing:
            if second.count < self.lines_per_second * self.window:
                second.count += 1
                return False
            self._switch(True)
            self._schedule_tick()
        if record.payload is None:  # undecodable: always shown in full
            second.count += 1
            return False
        self._summarize(record)
        return True

    def _summarize(self, record: Record) -> None:
        """Count a payload summary mode does not print; keep each connection's last for a refusal."""
        self._second.add(record)
        self._unshown[record.conn] = record

    def _refused(self, notice: Notice) -> Record | None:
        """The summarized payload a refusal followed, to be printed in full after all; a closed
        connection's last payload is forgotten."""
        behind = self._unshown.pop(notice.conn, None) if self.summarizing and _refusal(notice) else None
        if notice.kind == "closed":
            self._unshown.pop(notice.conn, None)
        return behind

    def _unhidden_line(self, record: Record) -> str:
        """The line of a payload that was counted as hidden and is printed after all."""
        self._second.hidden -= 1
        return self._record_line(record)

    def _schedule_tick(self) -> None:
        delay = max(0.0, self._second_started + self.window - time.monotonic())
        loop = self._loop or asyncio.get_running_loop()
        self._ticker = loop.call_later(delay, self._tick)

    def _tick(self) -> None:
        self._ticker = None
        self._drain(everything=True)
        self._end_second()

    def _end_second(self, force: bool = False) -> None:
        """Print the second's summary; stay in summary mode while the rate stays above the limit."""
        now = time.monotonic()
        second, seconds = self._second, max(now - self._second_started, 1e-3)
        figures = ""
        if self.figures is not None:
            try:
                figures = self.figures()
            except Exception as exc:  # a figure that fails must not end the summary
                figures = f"figures failed: {type(exc).__name__}"
        if second.hidden:
            width = self._columns = self._width()
            lines = second.lines(self.proto, seconds, figures, self._stdout.dropped, width)
            text = "\n".join(self._render(line, one_line=True) for line in lines)
            self._stdout.put((text + "\n").encode("utf-8", "replace"))
        self._second, self._second_started = Summary(), now
        if force or second.count < self.lines_per_second * self.window:
            self._switch(False)
            self._unshown.clear()
        else:
            self._schedule_tick()

    def _switch(self, summarizing: bool) -> None:
        self.summarizing = summarizing
        self._counting_arrivals = summarizing and self._counts_on_arrival
        self.mode_changed.set()

    def _record_line(self, record: Record, forwards: Sequence[Forward] = ()) -> str:
        to = None  # a relayed event's one forward, as it was read: a pipe keeps its route's text
        if forwards:
            one = forwards[0]
            if len(forwards) == 1 and not one.compressed and one.size == record.size and not self.terminal:
                to, extra = one, ""
            else:
                extra = route_extra(record, forwards)
        elif record.direction == "in" and record.payload is not None and record.payload.get("op") == self._ack_op:
            extra = ack_extra(record)
        else:
            extra = ""
        if not self.terminal:
            return self._plain(record, extra, to)
        who = connection_name(record.conn, record.service) if self.show_conn else None
        columns = self._columns or self._width()
        return self._render(format_record(record, self.proto, who=who, extra=extra, columns=columns), one_line=True)

    def _notice_line(self, notice: Notice) -> str:
        who = connection_name(notice.conn, notice.service) if self.show_conn else None
        return self._render(format_notice(notice, who=who)) if self.terminal else plain_notice(notice, who=who)

    def _width(self) -> int:
        return shutil.get_terminal_size().columns  # $COLUMNS, else the terminal's, else 80

    def _render(self, text: Text, soft_wrap: bool = False, one_line: bool = False) -> str:
        """A terminal's line with its colours, rendered by Rich to text (written by the thread)."""
        if not self.terminal:
            return text.plain
        screen = self._screen
        if screen is None:
            from rich.console import COLOR_SYSTEMS, Console

            screen = self._screen = Console(file=self._buffer, force_terminal=True, highlight=False)
            self._colors = COLOR_SYSTEMS.get(screen.color_system) if screen.color_system else None
        width = screen.width = self._columns or self._width()
        if single_cells(plain := text.plain) and (one_line or len(plain) <= width):  # the usual line: cheaply
            if len(plain) > width:
                text.plain = plain[: width - 1] + "…"  # as Text.truncate(overflow="ellipsis") cuts it
            return ansi(text, screen, self._colors)
        self._buffer.seek(0)
        self._buffer.truncate()
        if one_line:  # cut at the terminal's edge with an ellipsis
            screen.print(text, end="", no_wrap=True, overflow="ellipsis", crop=True)
        else:
            screen.print(text, end="", soft_wrap=soft_wrap)
        return self._buffer.getvalue()

    # --- stdout going away or falling behind --------------------------------------------------------

    def _stdout_gone(self) -> None:
        """Called by the writer thread when the reader went away (``gwtool connect | head``)."""
        silence_stdout()
        if self.on_closed is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self.on_closed)

    def _report_drops(self) -> None:
        """In a pipe, say on stderr (at most once a second) that stdout lost records."""
        dropped, now = self._stdout.dropped, time.monotonic()
        if dropped == self._reported_drops or self._stdout.broken or (self.terminal and not self.json):
            return
        if now - self._reported_at < 1.0:
            return
        self._reported_drops, self._reported_at = dropped, now
        _stderr(f"gwtool: stdout fell behind: {plural(dropped, 'record')} not written so far" + self._log_hint())

    def _log_hint(self) -> str:
        return " (--log keeps every record)" if self._log is None else " (the --log file has every one)"


# what console lines add to ASCII, each one cell wide (a glyph missing here only sends its lines
# through Rich's slower measuring)
_OWN_GLYPHS = str.maketrans("", "", "←→…·⏎�▸│")


def single_cells(plain: str) -> bool:
    """A console line of printable ASCII and our own glyphs: every character one cell wide, so
    measuring and cutting it by characters is by cells, without Rich's grapheme measuring (~150 µs
    a line)."""
    ascii_part = plain.translate(_OWN_GLYPHS)
    return ascii_part.isascii() and ascii_part.isprintable()


def ansi(text: Text, screen: Console, colors: ColorSystem | None) -> str:
    """``text`` as ``screen.print(text, end="")`` writes a line that fits, at a fraction of the cost
    (a terminal renders a line per payload up to ``LINES_PER_SECOND`` a second, or every one with
    ``--every``, on the loop that relays the frames): its segments with their styles' escape codes
    for ``colors`` (``screen``'s colour system), and no colour when ``screen.no_color``.
    tests/gateway/test_console_output.py compares the two."""
    segments = text.render(screen, end="")
    if screen.no_color:
        segments = Segment.remove_color(segments)
    return "".join([seg.style.render(seg.text, color_system=colors) if seg.style else seg.text for seg in segments])


def _stderr(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _refusal(notice: Notice) -> bool:
    """A notice that the payload before it may explain: a close by the gateway, a warning, a drop,
    a proxy's violation."""
    if notice.kind == "closed":
        return notice.data.get("by") == "gateway" or bool(notice.data.get("by_gateway"))
    return notice.kind in ("warning", "error", "dropped", "violation")


def _first(item: tuple[int, int | None, str | None]) -> int:
    return item[0]
