"""Runs of sends from Python: gwtool.client.sending, which `send`, `cache` and `replay` are thin over."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gwtool.client import GatewayClient
from gwtool.client.sending import ReplaySettings, SendPlan, check_reply, replay, send
from gwtool.errors import ConnectFailed, GwtoolError, Interrupted, InvalidSetting
from gwtool.gateway import MockGateway
from gwtool.logfile import Plan
from gwtool.protocol.definition import Definition, load_protocol
from gwtool.protocol.examples import event_data
from gwtool.records import Record

# a reply a sharder can wait for: commands answer an EXECUTE_COMMAND with DONE
DONE = """
[events.DONE]
from = ["commands"]
to = ["sharder"]
routing = "round_robin"

[events.DONE.fields]
ok = { type = "boolean" }
"""


@pytest.fixture
def done_proto(tmp_path: Path) -> Definition:
    path = tmp_path / "done.toml"
    path.write_text(DONE)
    return load_protocol(path, use_env=False)


def command(proto: Definition) -> dict:
    return {"op": proto.op("EVENT"), "t": "EXECUTE_COMMAND", "d": event_data(proto, "EXECUTE_COMMAND")}


def sharder(proto: Definition, url: str) -> GatewayClient:
    return GatewayClient(url, service="sharder", proto=proto, reconnect=False)


def events_in(gw: MockGateway, t: str) -> list[Record]:
    seen: list[Record] = []
    gw.subscribe(lambda item: seen.append(item) if isinstance(item, Record) and item.direction == "in" and item.t == t else None)
    return seen


class StopOnceConfirmed(asyncio.Event):
    """Set itself the first time the run waits on it once the gateway has confirmed an event the
    client sent: the run is then past its sends and their confirmation, wherever it waits next."""

    def __init__(self, client: GatewayClient):
        super().__init__()
        self.client, self.sent = client, False
        client.subscribe(self._see)

    def _see(self, item: object) -> None:
        self.sent = self.sent or (isinstance(item, Record) and item.direction == "out" and item.t is not None)

    async def wait(self) -> bool:
        if self.sent and self.client.data_confirmed == self.client.data_sent:
            self.set()
        return await super().wait()


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: SendPlan(repeat=0), "repeat"),
        (lambda: SendPlan(rate=0), "rate"),
        (lambda: SendPlan(timeout=-1), "timeout"),
        (lambda: ReplaySettings(speed=0), "speed"),
        (lambda: ReplaySettings(timeout=float("nan")), "timeout"),
    ],
)
def test_settings_are_checked_when_made(make, name):
    with pytest.raises(InvalidSetting) as refused:
        make()
    assert refused.value.name == name


def test_a_plan_is_frozen_and_spaces_its_sends_by_rate():
    plan = SendPlan(repeat=3, rate=4)
    assert [offset for offset, _ in plan.schedule({})] == [0.0, 0.25, 0.5]
    with pytest.raises(AttributeError):
        plan.repeat = 5  # type: ignore[misc]


async def test_send_repeats_confirms_and_closes(proto):
    async with MockGateway(proto, heartbeat_interval=60_000) as gw:
        taken = events_in(gw, "EXECUTE_COMMAND")
        client = sharder(proto, gw.url)
        sent = await send(client, command(proto), SendPlan(repeat=3), what="EXECUTE_COMMAND")
        assert (sent.count, sent.reply) == (3, None) and sent.size > 0
        assert len(taken) == 3 and client.data_confirmed == client.data_sent  # confirmed before send returned
        assert client.state.phase == "closed"


async def test_send_waits_for_the_reply(done_proto):
    async with MockGateway(done_proto, heartbeat_interval=60_000) as gw:
        worker = GatewayClient(gw.url, service="commands", proto=done_proto)

        def answer(item: object) -> None:
            if isinstance(item, Record) and item.direction == "in" and item.t == "EXECUTE_COMMAND":
                asyncio.get_running_loop().create_task(worker.send_event("DONE", {"ok": True}))

        worker.subscribe(answer)
        async with worker:
            await worker.wait_identified(timeout=5)
            plan = SendPlan(wait_for="DONE", timeout=10)
            sent = await send(sharder(done_proto, gw.url), command(done_proto), plan, what="EXECUTE_COMMAND")
    assert sent.reply is not None and sent.reply.t == "DONE" and sent.reply.payload["d"] == {"ok": True}


async def test_a_reply_that_cannot_come_is_refused_before_connecting(proto):
    with pytest.raises(InvalidSetting, match="wait_for: EXECUTE_COMMAND: a sharder never receives it"):
        await send(sharder(proto, "ws://127.0.0.1:9"), command(proto), SendPlan(wait_for="EXECUTE_COMMAND"), what="x")
    with pytest.raises(InvalidSetting, match="it answers IDENTIFY"):
        check_reply(proto, "commands", "IDENTIFIED")


async def test_no_reply_in_time_says_what_was_sent(done_proto):
    async with MockGateway(done_proto, heartbeat_interval=60_000) as gw:
        plan = SendPlan(wait_for="DONE", timeout=0.3)
        with pytest.raises(GwtoolError, match=r"^no DONE within 0.3 s \(sent 1 EXECUTE_COMMAND\)$"):
            await send(sharder(done_proto, gw.url), command(done_proto), plan, what="EXECUTE_COMMAND")


async def test_a_stop_while_waiting_for_the_reply_says_what_was_sent(done_proto):
    async with MockGateway(done_proto, heartbeat_interval=60_000) as gw:
        client = sharder(done_proto, gw.url)
        stop = StopOnceConfirmed(client)
        with pytest.raises(Interrupted, match=r"^interrupted waiting for DONE \(sent 1 EXECUTE_COMMAND\)$") as stopped:
            await send(client, command(done_proto), SendPlan(wait_for="DONE"), what="EXECUTE_COMMAND", stop=stop)
    assert stopped.value.exit_code == 130 and client.state.close_code == 1000


async def test_a_stop_before_identifying_sends_nothing_and_closes_cleanly(proto):
    async with MockGateway(proto, heartbeat_interval=60_000) as gw:
        taken = events_in(gw, "EXECUTE_COMMAND")
        stop = asyncio.Event()
        stop.set()
        client = sharder(proto, gw.url)
        with pytest.raises(Interrupted, match="interrupted before identifying: nothing was sent"):
            await send(client, command(proto), SendPlan(repeat=5), what="EXECUTE_COMMAND", stop=stop)
    assert taken == [] and client.state.phase == "closed"


async def test_a_stop_between_paced_sends_says_how_far_it_got(proto):
    async with MockGateway(proto, heartbeat_interval=60_000) as gw:
        client = sharder(proto, gw.url)
        stop, written = asyncio.Event(), 0

        def stop_after_two(item: object) -> None:
            nonlocal written
            if isinstance(item, Record) and item.direction == "out" and item.t == "EXECUTE_COMMAND":
                written += 1
                if written == 2:
                    stop.set()

        client.subscribe(stop_after_two)
        plan = SendPlan(repeat=100, rate=20)
        with pytest.raises(Interrupted) as stopped:
            await send(client, command(proto), plan, what="EXECUTE_COMMAND", stop=stop)
    assert str(stopped.value) == (
        "interrupted: 2 of 100 EXECUTE_COMMAND written, 2 confirmed by a heartbeat ACK; the rest were not sent"
    )


async def test_nothing_listening_is_connect_failed(proto):
    from test_cli_client_commands import closed_port

    with pytest.raises(ConnectFailed):
        await send(sharder(proto, f"ws://127.0.0.1:{closed_port()}"), command(proto), SendPlan(), what="EXECUTE_COMMAND")


async def test_replay_sends_a_plan_and_says_how_long_it_took(proto):
    payload = command(proto)
    plan = Plan("sharder", [(0.0, payload, 2), (0.05, payload, 3), (0.1, payload, 4)])
    async with MockGateway(proto, heartbeat_interval=60_000) as gw:
        taken = events_in(gw, "EXECUTE_COMMAND")
        progress: list[int] = []
        done = await replay(sharder(proto, gw.url), plan, ReplaySettings(speed=None), progress=progress.append)
    assert (done.count, done.recorded, progress, len(taken)) == (3, 0.1, [1, 2, 3], 3)
