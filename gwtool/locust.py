"""Locust users for any service type of the protocol definition (``pip install 'gwtool[locust]'``).

``locust -f locustfile.py --host ws://127.0.0.1:8765`` with a locustfile from ``gwtool locustfile``.
Locust runs users as gevent greenlets and patches the standard library for them, so the client
here is ``websockets.sync`` (blocking sockets and threads, which gevent turns into greenlets), not
the asyncio client the rest of gwtool uses. Payloads come from the protocol core: the definition's
examples, its codec and its validation.

In Locust's stats:
- ``EXECUTE_COMMAND`` (the definition's round-robin event): one request per event a receiving
  user got, its response time the end-to-end latency (the send time travels in the event's data,
  as ``gwtool bench`` does it; across machines, their clocks must agree).
- ``HEARTBEAT``: one per heartbeat, its response time the ACK's round trip.
- A close by the gateway, or a payload that fails validation: a failure named by the close code
  or the payload (``CLOSE 4010 INVALID_PAYLOAD``), with the reason.

At the end the master (or the only process) logs how many events were sent and never received by
any receiving user in the run, and keeps them in ``TOTALS``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import gevent
import orjson
from locust import User, between, events, task
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from gwtool.errors import DecodeError
from gwtool.protocol.codec import decode, encode
from gwtool.protocol.definition import Definition, load_protocol
from gwtool.protocol.examples import event_data, heartbeat_payload
from gwtool.session import Ack, Action, Close, Problem, Send, ServiceSession

if TYPE_CHECKING:
    from locust.env import Environment
    from locust.event import EventHook

    from gwtool.protocol.definition import Event

LOG = logging.getLogger("gwtool.locust")
HANDSHAKE_SECONDS = 10.0  # HELLO after connecting, IDENTIFIED after IDENTIFY
MARK = "gwtoolLocust"  # the data field carrying [sender, seq, send time] (extra fields pass validation)
PROTO: Definition = load_protocol()
COUNTS = {"sent": 0, "received": 0}  # this process's events, reported to the master at the end
_RUN = {
    "started": 0.0
}  # when this process's test started: older events (held by the gateway since an earlier run) are not counted


class GatewayError(Exception):
    """What Locust records as a failure's exception: a close, or an invalid payload."""


def _round_robin_event(proto: Definition) -> Event | None:
    return next((e for e in proto.events.values() if e.routing == "round_robin" and proto.first_sender(e.t)), None)


class GatewayUser(User):
    """One service connection: HELLO, IDENTIFY as ``service``, heartbeats, reading every payload.

    Subclasses choose ``service``; the user's ``host`` is the gateway's ``ws://`` URL (--host)."""

    abstract = True
    service: str = ""
    token: str = ""
    wait_time = between(1, 1)
    proto: Definition = PROTO

    def on_start(self) -> None:
        self.ws: ClientConnection | None = None
        self.session = ServiceSession(
            self.proto, self.service, token=self.token, handshake_timeout=HANDSHAKE_SECONDS,
            heartbeat_data=lambda: heartbeat_payload(self.proto, self.service)["d"],
        )  # fmt: skip
        self.closing = False
        self._connect()

    def on_stop(self) -> None:
        self.closing = True
        if self.ws is not None:
            self.ws.close()

    # --- the connection: the protocol's steps are the session's, the socket is ours ---------------
    def _connect(self) -> None:
        started, session = time.perf_counter(), self.session
        try:
            self.ws = connect(self.host or "", compression=None, proxy=None, open_timeout=10, max_size=16 << 20)
            session.connected(time.monotonic())
            while session.phase in ("awaiting_hello", "identifying"):
                try:
                    frame = self.ws.recv(timeout=max(0.0, (session.deadline() or 0.0) - time.monotonic()))
                except TimeoutError:
                    self._perform(session.tick(time.monotonic()))
                    continue
                self._perform(session.receive(decode(frame).payload, time.monotonic()))
            if session.identified is None:
                raise GatewayError(f"not identified ({session.phase})")
        except ConnectionClosed as exc:
            self._closed(exc)
            raise
        except Exception as exc:
            self._fire("CONNECT", self.service, started, exception=GatewayError(f"{type(exc).__name__}: {exc}"))
            raise
        self._fire("CONNECT", self.service, started)
        gevent.spawn(self._read)
        gevent.spawn(self._clock)

    def _read(self) -> None:
        assert self.ws is not None
        event_op = self.proto.op("EVENT")
        try:
            for frame in self.ws:
                try:
                    payload = decode(frame).payload
                except DecodeError as exc:
                    self._fire("INVALID", "undecodable frame", time.perf_counter(), exception=GatewayError(str(exc)))
                    continue
                valid = self._perform(self.session.receive(payload, time.monotonic()), payload)
                if valid and payload.get("op") == event_op and payload.get("t") != self.session.identified_t:
                    self.on_event(payload)
        except ConnectionClosed as exc:
            self._closed(exc)

    def _clock(self) -> None:
        """Heartbeats (and the zombie check) when the session says they are due."""
        while not self.closing and (due := self.session.deadline()) is not None:
            gevent.sleep(max(0.0, due - time.monotonic()))
            try:
                self._perform(self.session.tick(time.monotonic()))
            except ConnectionClosed:
                return

    def _perform(self, actions: list[Action], payload: dict[str, Any] | None = None) -> bool:
        """Carry out the session's actions; False when ``payload`` broke a rule (a failure each)."""
        assert self.ws is not None
        valid = True
        for action in actions:
            if isinstance(action, Send):
                self.ws.send(encode(action.payload).decode())
            elif isinstance(action, Ack) and action.latency_ms is not None:
                self._fire_ms("HEARTBEAT", "HEARTBEAT", action.latency_ms)
            elif isinstance(action, Problem):
                valid = False
                kind, name = ("EVENT", str(payload.get("t"))) if payload and payload.get("t") else ("INVALID", "payload")
                self._fire(kind, name, time.perf_counter(), exception=GatewayError(action.text))
            elif isinstance(action, Close):
                self.ws.close(action.code, action.reason)
        return valid

    def _closed(self, exc: ConnectionClosed) -> None:
        if self.closing:
            return
        received = exc.rcvd
        code = received.code if received is not None else 1006
        name = self.proto.close_name(code)
        reason = received.reason if received is not None else "no close frame"
        self._fire("CLOSE", f"{code} {name}".rstrip(), time.perf_counter(), exception=GatewayError(reason))

    def _fire(self, kind: str, name: str, started: float, *, length: int = 0, exception: Exception | None = None) -> None:
        self._fire_ms(kind, name, (time.perf_counter() - started) * 1000, length=length, exception=exception)

    def _fire_ms(self, kind: str, name: str, ms: float, *, length: int = 0, exception: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type=kind, name=name, response_time=ms, response_length=length, exception=exception, context={},
        )  # fmt: skip

    # --- events ------------------------------------------------------------------------------------
    def on_event(self, payload: dict[str, Any]) -> None:
        """A valid EVENT the gateway routed to this user (invalid ones are failures already): a
        request named by the event, its latency the time since its sender sent it."""
        d = payload.get("d")
        mark = d.get(MARK) if isinstance(d, dict) else None
        if not (isinstance(mark, list) and len(mark) == 3 and isinstance(mark[2], float)) or mark[2] < _RUN["started"]:
            return  # not one of this run's
        COUNTS["received"] += 1
        latency_ms = max(0.0, (time.time() - mark[2]) * 1000)
        self._fire_ms("EVENT", str(payload.get("t")), latency_ms, length=len(orjson.dumps(d)))


class SenderUser(GatewayUser):
    """Sends the definition's round-robin event at ``events_per_second`` (its example data, or
    ``event_data``), each carrying its sender, number and send time."""

    abstract = True
    event: str = ""
    event_data: dict[str, Any] | None = None
    events_per_second: float = 10.0

    def on_start(self) -> None:
        self.sender_id = uuid.uuid4().hex[:12]
        self.seq = 0
        data = self.event_data if self.event_data is not None else event_data(self.proto, self.event)
        if not isinstance(data, dict):  # the definition's example is any JSON
            raise GatewayError(f"{self.event}: its data is not a JSON object, and each event adds a field to it")
        self.data: dict[str, Any] = data
        super().on_start()

    def wait_time(self) -> float:
        return 1.0 / self.events_per_second if self.events_per_second > 0 else 0.0

    @task
    def send_event(self) -> None:
        assert self.ws is not None
        d = {**self.data, MARK: [self.sender_id, self.seq, time.time()]}
        payload = {"op": self.proto.op("EVENT"), "t": self.event, "d": d}
        try:
            self.ws.send(encode(payload).decode())
        except ConnectionClosed as exc:
            self._closed(exc)
            self.stop()
            return
        self.seq += 1
        COUNTS["sent"] += 1


class ReceiverUser(GatewayUser):
    """Identifies, heartbeats and receives; its only task is to wait."""

    abstract = True

    @task
    def receive(self) -> None:
        gevent.sleep(1.0)


_EVENT = _round_robin_event(PROTO)


class SharderUser(SenderUser):
    """The definition's sender of its round-robin event (a sharder sending EXECUTE_COMMAND by default)."""

    abstract = True
    service = (PROTO.first_sender(_EVENT.t) if _EVENT else None) or next(iter(PROTO.services))
    event = _EVENT.t if _EVENT else ""


class CommandsUser(ReceiverUser):
    """The service type that receives the round-robin event (commands by default)."""

    abstract = True
    service = next((s for s in PROTO.services if _EVENT and _EVENT.is_received_by(s)), PROTO.first_receiver())


# --- lost events: each process counts, the master adds them up ------------------------------------

_per_worker: dict[str, dict[str, int]] = {}  # the master: each worker's latest counts
TOTALS: dict[str, int] = {}  # the master's (or the only process's) sent, received and lost, once the run ends

Listener = TypeVar("Listener", bound=Callable[..., None])


def _listener(hook: EventHook) -> Callable[[Listener], Listener]:
    """``@hook.add_listener`` with the listener's type kept."""

    def add(listener: Listener) -> Listener:
        hook.add_listener(listener)  # type: ignore[no-untyped-call]  # Locust's EventHook has no annotations
        return listener

    return add


@_listener(events.test_start)
def _test_started(**_: Any) -> None:
    _RUN["started"] = time.time() - 1.0  # a second of slack for clocks of machines that agree only roughly


@_listener(events.report_to_master)
def _report_counts(client_id: str, data: dict[str, Any], **_: Any) -> None:
    data["gwtool_counts"] = dict(COUNTS)  # cumulative: the latest report of a worker is its total


@_listener(events.worker_report)
def _worker_counts(client_id: str, data: dict[str, Any], **_: Any) -> None:
    if isinstance(data.get("gwtool_counts"), dict):
        _per_worker[client_id] = data["gwtool_counts"]


@_listener(events.quitting)
def _report_lost(environment: Environment, **_: Any) -> None:
    from locust.runners import WorkerRunner

    if isinstance(environment.runner, WorkerRunner):
        return
    counts = list(_per_worker.values()) or [COUNTS]
    sent, received = sum(c["sent"] for c in counts), sum(c["received"] for c in counts)
    lost = max(0, sent - received)
    LOG.info("gwtool: %d events sent, %d received, %d lost (never received by any receiving user)", sent, received, lost)
    TOTALS.update(sent=sent, received=received, lost=lost)
