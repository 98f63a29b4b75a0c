"""Frames the gateway forwards: a receiver's first of a turn of the event loop written at once,
the rest of that turn's gathered into one write when the turn ends.

On loopback a ``send()`` system call costs more than everything else the gateway does with an
event (it runs the receiver's TCP stack too), and in a flood one turn of the loop reads many
events. So a forward frames the event at once through the connection's Sans-I/O protocol
(``protocol.send_text``, public); the first frame a receiver gets in a turn is written then (a lone
event, the usual one below saturation, does not wait for the rest of the turn's work: at
2,000 msg/s that wait was most of the gateway's added latency), and the bytes of every later one
go in one ``transport.write`` when the turn ends (or sooner, past ``FLUSH_BYTES``): two writes a
receiver and turn, however many events it got (more only past ``FLUSH_BYTES``).

Order is kept: websockets' own writes (a ping, an ACK through ``send()``, a close) flush the same
protocol buffer first. ``ServerConnection.protocol`` and ``.transport`` are attributes websockets
does not document (a client's ``ClientConnection`` has the same: the proxy writes to both sides);
tests/gateway/test_writes.py fails by name if they change.
"""

from __future__ import annotations

import asyncio

from websockets.asyncio.connection import Connection

FLUSH_BYTES = 64 * 1024  # a receiver's frames of one turn are written at once past this


class TurnWrites:
    def __init__(self) -> None:
        self._pending: dict[Connection, int] = {}  # receiver → bytes framed, not yet written
        self._scheduled = False  # the turn's flush is on the loop
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, ws: Connection, data: str | bytes) -> None:
        """Frame ``data`` for ``ws`` (text for a str, binary for bytes); the caller checked that
        ``ws`` is open."""
        if isinstance(data, str):
            frame = data.encode()
            ws.protocol.send_text(frame)
        else:
            frame = data
            ws.protocol.send_binary(frame)
        pending = self._pending
        queued = pending.get(ws)
        if queued is None:  # its first frame this turn: at once; later ones wait for the turn's end
            pending[ws] = 0
            if not self._scheduled:
                self._scheduled = True
                if self._loop is None:
                    self._loop = asyncio.get_running_loop()
                self._loop.call_soon(self.flush)
            _write(ws)
            return
        queued += len(frame)
        if queued > FLUSH_BYTES:  # a hold delivered at once, a huge event: not all in memory twice
            pending[ws] = 0
            _write(ws)
        else:
            pending[ws] = queued

    def flush(self) -> None:
        pending, self._pending, self._scheduled = self._pending, {}, False
        for ws, queued in pending.items():
            if queued:  # (0: its one frame of the turn went at once)
                _write(ws)


def _write(ws: Connection) -> None:
    """What ``ws``'s protocol has framed, in one write; as websockets' own ``send_data`` does, an
    empty chunk means end of stream (after a close frame)."""
    chunks = ws.protocol.data_to_send()
    transport = ws.transport
    if not chunks or transport.is_closing():
        return  # already written by websockets, or the connection is going: its frames with it
    try:
        if b"" not in chunks:
            transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            return
        for chunk in chunks:
            if chunk:
                transport.write(chunk)
            elif transport.can_write_eof():
                transport.write_eof()
            else:
                transport.close()
    except Exception:
        pass
