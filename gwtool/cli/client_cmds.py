"""``gwtool connect | send | cache``: impersonate any service type of the protocol definition.

Thin over ``gwtool.client.GatewayClient``; the client and websockets are imported inside the
commands so that ``gwtool --help`` stays fast.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from gwtool.cli.app import app
from gwtool.cli.data import build_data
from gwtool.cli.help import GwtoolCommand
from gwtool.cli.options import (
    DEFAULT_URL,
    CompressOption,
    EveryOption,
    FilterOption,
    JsonOption,
    LogOption,
    ProtocolOption,
    QuietOption,
    ServiceOption,
    ShowTokenOption,
    TokenOption,
    UrlOption,
    filter_hide,
    load,
)
from gwtool.cli.running import install_stop_signals, open_log
from gwtool.errors import GwtoolError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from gwtool.client import GatewayClient
    from gwtool.protocol.definition import Protocol
    from gwtool.records import Notice, Record

DataOption = Annotated[
    Optional[str],
    typer.Option(
        "--data",
        metavar="JSON|@FILE|-",
        help="The data (d): JSON text, @file.json, or - for stdin. Default: the definition's example.",
    ),
]
SetOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--set",
        metavar="PATH=VALUE",
        help="Change one field of the data, e.g. ids.shard=2 or command=kick (repeatable). VALUE is JSON "
        "(2, true, null, [..]); text that is not JSON, or any value for a string-typed field, stays a string.",
    ),
]
RepeatOption = Annotated[int, typer.Option("--repeat", min=1, metavar="N", help="Send it N times.")]
RateOption = Annotated[
    Optional[float], typer.Option("--rate", min=0.001, metavar="PER_SECOND", help="With --repeat: at most this many per second.")
]
WaitForOption = Annotated[
    Optional[str], typer.Option("--wait-for", metavar="EVENT", help="Then wait for this event and print it.")
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=0.0, metavar="SECONDS", help="Seconds to wait for identifying and for --wait-for.")
]
NoValidateOption = Annotated[
    bool, typer.Option("--no-validate", help="Send the data even if it fails the definition's field tables.", metavar="")
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Send even if the service type may not (to test the gateway's refusal).", metavar="")
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Print every payload and connection step, not only what is sent.", metavar="")
]
GuildsOption = Annotated[
    int,
    typer.Option(
        "--guilds", min=0, metavar="N", help="Value of the guilds heartbeat field, for service types whose heartbeats carry one."
    ),
]


# --- connect ------------------------------------------------------------------------------------


@app.command(cls=GwtoolCommand)
def connect(
    url: UrlOption = DEFAULT_URL,
    service: ServiceOption = None,
    token: TokenOption = "",
    compress: CompressOption = False,
    protocol: ProtocolOption = None,
    json: JsonOption = False,
    duration: Annotated[Optional[float], typer.Option(min=0.0, metavar="SECONDS", help="Stop after this long.")] = None,
    count: Annotated[
        Optional[int], typer.Option(min=1, metavar="N", help="Stop after N payloads received (of those shown).")
    ] = None,
    no_heartbeat_lines: Annotated[
        bool, typer.Option("--no-heartbeat-lines", help="Hide heartbeats and their ACKs.", metavar="")
    ] = False,
    no_heartbeat: Annotated[
        bool, typer.Option("--no-heartbeat", help="Send no scheduled heartbeats (requests are still answered).", metavar="")
    ] = False,
    guilds: GuildsOption = 0,
    log: LogOption = None,
    every: EveryOption = False,
    quiet: QuietOption = False,
    filter_: FilterOption = None,
    show_token: ShowTokenOption = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=0.001,
            metavar="SECONDS",
            help="Seconds the gateway has for HELLO, and for IDENTIFIED after IDENTIFY.",
        ),
    ] = 5.0,
) -> None:
    """Connect as a service, identify, heartbeat, and print every payload both ways as it happens.

    --as defaults to the definition's first service type. Each heartbeat ACK shows its round trip. Reconnects with backoff when the gateway closes with a reconnectable code or the network fails; stops (exit 3) on a code that says not to. Ctrl-C, --duration or --count end it with exit 0.

    --json: one JSON object per line. Payloads: kind "payload", ts, dir, op, t, type, size, compressed, d (an ACK adds latency_ms). Connection steps: kind connecting, connected, identified, closed, reconnecting, … with text.
    """  # noqa: E501
    proto = load(protocol)
    service = check_service(proto, service or next(iter(proto.services)))
    options = dict(duration=duration, count=count, hide_heartbeats=no_heartbeat_lines)
    output_options = dict(json=json, every=every, quiet=quiet, hide=filter_hide(filter_, proto, "you"))
    with open_log(log, lambda: recording_header(proto, "connect", url, service)) as log_file:
        client = make_client(
            url,
            service,
            token,
            compress,
            proto,
            heartbeat=not no_heartbeat,
            guilds=guilds,
            reconnect=True,
            open_timeout=timeout,
            show_token=show_token,
        )
        run_async(_connect(client, {**output_options, "log": log_file}, **options))


async def _connect(
    client: GatewayClient, output_options: dict[str, Any], *, duration: float | None, count: int | None, hide_heartbeats: bool
) -> None:
    import asyncio

    from gwtool.output import WireOutput
    from gwtool.records import Record

    heartbeat_ops = {client.proto.op("HEARTBEAT"), client.proto.op("HEARTBEAT_ACK")}
    enough = asyncio.Event()

    filtered = output_options.pop("hide")  # --filter

    def hidden(item: Record | Notice) -> bool:
        return (hide_heartbeats and isinstance(item, Record) and item.op in heartbeat_ops) or bool(filtered and filtered(item))

    # stdout going away (| head) stops it like --count would
    output = WireOutput(
        client.proto, hide=hidden, figures=lambda: latency_figures(client), on_closed=enough.set, **output_options
    )
    client.subscribe(output)
    if count is not None:
        shown = 0

        def count_received(item: Record | Notice) -> None:
            nonlocal shown
            if isinstance(item, Record) and item.direction == "in" and not hidden(item):
                shown += 1
                if shown >= count:
                    enough.set()

        client.subscribe(count_received)
    try:
        await run_until(client, enough, duration)
        output.message(f"{client.sent_count} sent · {client.received_count} received · latency {client.latency.summary()}")
    finally:
        await output.aclose()


def latency_figures(client: GatewayClient) -> str:
    """The client's heartbeat round trip, for the console's summary lines."""
    stats = client.latency
    if stats.last is None:
        return "♥ no ACK yet"
    return f"♥ p50 {stats.p50:.2f} ms · p99 {stats.percentile(99):.2f} ms"


async def run_until(client: GatewayClient, stop: Any, duration: float | None) -> None:
    """Run the client until ``stop`` is set, ``duration`` passes or Ctrl-C; raise its give-up."""
    import asyncio

    install_stop_signals(stop)
    runner = asyncio.create_task(client.run())
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({runner, stopper}, timeout=duration, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not runner.done():
        await client.close()
    await runner  # ConnectFailed / ClosedByGateway surface here


# --- send / cache -------------------------------------------------------------------------------


@app.command(cls=GwtoolCommand)
def send(
    event: Annotated[
        str, typer.Argument(metavar="EVENT", help="Event name (t), e.g. one listed by `gwtool protocol`.", show_default=False)
    ],
    data: DataOption = None,
    set_: SetOption = None,
    repeat: RepeatOption = 1,
    rate: RateOption = None,
    wait_for: WaitForOption = None,
    timeout: TimeoutOption = 10.0,
    no_validate: NoValidateOption = False,
    force: ForceOption = False,
    url: UrlOption = DEFAULT_URL,
    service: ServiceOption = None,
    token: TokenOption = "",
    compress: CompressOption = False,
    protocol: ProtocolOption = None,
    json: JsonOption = False,
    verbose: VerboseOption = False,
    every: EveryOption = False,
    quiet: QuietOption = False,
    log: LogOption = None,
    show_token: ShowTokenOption = False,
) -> None:
    """Identify, send an event, and exit once the gateway has taken it.

    --as defaults to the first service type the definition lets send EVENT. The data is checked against the event's field table first (--no-validate skips that). After the last send a heartbeat round trip confirms the gateway took it: a gateway that refuses it closes the connection instead, and its close code, name and reason are reported (exit 3).
    """  # noqa: E501
    from gwtool.protocol.examples import event_data

    proto = load(protocol)
    known = proto.events.get(event)
    if known is None:
        raise GwtoolError(f"unknown event {event!r}{did_you_mean(event, proto.events)} (known: {', '.join(proto.events)})")
    if wait_for is not None and wait_for not in proto.events:
        raise GwtoolError(f"--wait-for: unknown event {wait_for!r} (known: {', '.join(proto.events)})")
    if service is None:
        service = proto.first_sender(event)
        if service is None:
            raise GwtoolError(
                f"no service type may send {event} (from: {', '.join(known.sources)}); use --as SERVICE --force to send it anyway"
            )
    check_service(proto, service)
    d = build_data(data, set_ or [], event_data(proto, event), known.fields, proto)
    payload = {"op": proto.op("EVENT"), "t": event, "d": d}
    with open_log(log, lambda: recording_header(proto, "send", url, service)) as log_file:
        output = dict(json=json, every=every, quiet=quiet, log=log_file)
        _send_command(
            proto,
            payload,
            event,
            url,
            service,
            token,
            compress,
            output,
            verbose,
            not no_validate,
            force,
            repeat,
            rate,
            wait_for,
            timeout,
            show_token,
        )


@app.command(cls=GwtoolCommand)
def cache(
    cache_type: Annotated[
        str, typer.Argument(metavar="TYPE", help="Cache type, e.g. one listed by `gwtool protocol`.", show_default=False)
    ],
    data: DataOption = None,
    set_: SetOption = None,
    repeat: RepeatOption = 1,
    rate: RateOption = None,
    timeout: TimeoutOption = 10.0,
    no_validate: NoValidateOption = False,
    force: ForceOption = False,
    url: UrlOption = DEFAULT_URL,
    service: ServiceOption = None,
    token: TokenOption = "",
    compress: CompressOption = False,
    protocol: ProtocolOption = None,
    json: JsonOption = False,
    verbose: VerboseOption = False,
    every: EveryOption = False,
    quiet: QuietOption = False,
    log: LogOption = None,
    show_token: ShowTokenOption = False,
) -> None:
    """Identify, send a cache payload (an entity or an array of them), and exit once the gateway has taken it.

    --as defaults to the first service type the definition lets send CACHE. The data defaults to the cache type's example; --set paths start inside it (id=…, or [0].id=… for an array). Checked and confirmed like `gwtool send`.
    """  # noqa: E501
    from gwtool.protocol.examples import cache_data

    proto = load(protocol)
    structure = proto.cache_types.get(cache_type)
    if structure is None:
        raise GwtoolError(
            f"unknown cache type {cache_type!r}{did_you_mean(cache_type, proto.cache_types)} (known: {', '.join(proto.cache_types)})"
        )
    if service is None:
        service = proto.first_cacher()
        if service is None:
            raise GwtoolError("no service type may send CACHE; use --as SERVICE --force to send it anyway")
    check_service(proto, service)
    d = build_data(data, set_ or [], cache_data(proto, cache_type), structure.fields, proto)
    payload = {"op": proto.op("CACHE"), "type": cache_type, "d": d}
    with open_log(log, lambda: recording_header(proto, "cache", url, service)) as log_file:
        output = dict(json=json, every=every, quiet=quiet, log=log_file)
        _send_command(
            proto,
            payload,
            cache_type,
            url,
            service,
            token,
            compress,
            output,
            verbose,
            not no_validate,
            force,
            repeat,
            rate,
            None,
            timeout,
            show_token,
        )


def _send_command(
    proto: Protocol, payload: dict[str, Any], what: str, url: str, service: str, token: str, compress: bool,
    output_options: dict[str, Any], verbose: bool, validate: bool, force: bool, repeat: int, rate: float | None, wait_for: str | None, timeout: float,
    show_token: bool = False,
) -> None:  # fmt: skip
    from gwtool.client import NotAllowed
    from gwtool.errors import InvalidPayload

    client = make_client(
        url,
        service,
        token,
        compress,
        proto,
        heartbeat=True,
        guilds=0,
        reconnect=False,
        open_timeout=min(timeout or 5.0, 5.0),
        show_token=show_token,
    )
    try:
        client.check_payload(payload, validate=validate, force=force)
    except InvalidPayload as exc:
        raise GwtoolError(f"invalid {what} data: {'; '.join(exc.errors)}\n(--no-validate sends it anyway)") from None
    except NotAllowed as exc:
        raise GwtoolError(
            f"{str(exc).partition(';')[0]}\n(--as another service type, or --force to test the gateway's refusal)"
        ) from None
    run_async(_send(client, output_options, payload, what, verbose, repeat, rate, wait_for, timeout), interrupted_status=130)


async def _send(
    client: GatewayClient, output_options: dict[str, Any], payload: dict[str, Any], what: str, verbose: bool,
    repeat: int, rate: float | None, wait_for: str | None, timeout: float,
) -> None:  # fmt: skip
    import asyncio
    import time

    from gwtool.client import NotConnected
    from gwtool.console import human_size
    from gwtool.output import WireOutput
    from gwtool.records import Record

    op = payload["op"]

    replied = False

    def hidden(item: Record | Notice) -> bool:
        """Without --verbose: only what is sent, and the --wait-for reply (the first match)."""
        nonlocal replied
        if verbose:
            return False
        if not isinstance(item, Record):
            return True
        if item.direction == "in" and wait_for is not None and item.t == wait_for and not replied:
            replied = True
            return False
        return not (item.direction == "out" and item.op == op)

    output = WireOutput(client.proto, hide=hidden, figures=lambda: latency_figures(client), **output_options)
    client.subscribe(output)
    async with identified(client, output, timeout) as runner:
        reply = asyncio.create_task(client.wait_for_event(wait_for, timeout=timeout or None)) if wait_for else None
        try:
            await asyncio.sleep(0)  # let the reply waiter subscribe before anything is sent
            started, size, base = time.monotonic(), 0, client.data_sent
            for i in range(repeat):
                if rate and i:
                    await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
                try:
                    size += (await client.send_payload(payload, validate=False, force=True)).size
                except NotConnected:
                    await asyncio.wait({runner}, timeout=client.close_timeout)  # the gateway closed: say how
                    if repeat > 1:
                        raise lost_midway(client, runner, what, i, repeat, base) from None
                    raise
            await confirm(client, timeout)
            if reply is not None:
                try:
                    await reply
                except TimeoutError:
                    raise GwtoolError(f"no {wait_for} within {timeout:g} s (sent {repeat} {what})") from None
        finally:
            if reply is not None:
                reply.cancel()
        times = f" {repeat}×" if repeat > 1 else ""
        output.message(f"sent{times} {what} as {client.service} to {client.url} ({human_size(size)})")


@contextlib.asynccontextmanager
async def identified(client: GatewayClient, output: Any, timeout: float) -> AsyncIterator[Any]:
    """Run ``client`` for the block, which starts once it is IDENTIFIED (ConnectFailed after
    ``timeout``) and gets the client's task. Afterwards the client is closed and ``output`` drained;
    an error in the block wins over the client's own give-up (connection refused …), which is raised
    otherwise. A NotConnected in the block becomes the close that caused it (code, name, reason)."""
    import asyncio

    from gwtool.client import NotConnected
    from gwtool.errors import ConnectFailed

    runner = asyncio.create_task(client.run())
    failed = False
    try:
        try:
            await client.wait_identified(timeout=timeout or None)
        except TimeoutError:
            step = "IDENTIFIED (the answer to IDENTIFY)" if client.saw_hello else "HELLO"
            raise ConnectFailed(f"{client.url} sent no {step} within {timeout:g} s") from None
        yield runner
    except NotConnected:
        failed = True
        if runner.done() and runner.exception() is not None:
            raise runner.exception() from None  # ClosedByGateway: code, name and reason
        raise
    except BaseException:
        failed = True
        raise
    finally:
        if not runner.done():
            await client.close()
        try:
            if not failed:
                await runner  # the client's own give-up (connection refused …), if any
            else:  # the error in flight says what happened
                await asyncio.wait({runner})
                if not runner.cancelled():
                    runner.exception()  # retrieved: no "never retrieved" warning
        finally:
            await output.aclose()


def lost_midway(client: GatewayClient, runner: Any, what: str, written: int, repeat: int, base: int) -> GwtoolError:
    """The error for a run of sends cut short: how many were written and how many confirmed."""
    from gwtool.errors import ClosedByGateway, LostMidway

    confirmed = max(0, min(written, client.data_confirmed - base))
    counts = f"{written} of {repeat} {what} written, {confirmed} confirmed by a heartbeat ACK"
    cause = runner.exception() if runner.done() and not runner.cancelled() else None
    if isinstance(cause, ClosedByGateway):  # a refusal: exit 3 as ever, with the counts
        return ClosedByGateway(f"{cause} ({counts})", cause.code, cause.name, cause.reason)
    why = f": {cause}" if cause is not None else ""
    return LostMidway(f"connection lost midway{why} ({counts}; the rest were not sent)")


async def confirm(client: GatewayClient, timeout: float) -> None:
    """A heartbeat round trip: its ACK means the gateway took what we sent (it keeps order)."""
    try:
        await client.round_trip(timeout or None)
    except TimeoutError:
        raise GwtoolError(
            f"the gateway did not ACK a heartbeat within {timeout:g} s: the payload was written, not confirmed"
        ) from None


# --- shared helpers -----------------------------------------------------------------------------


def recording_header(proto: Protocol, command: str, url: str, service: str) -> dict[str, Any]:
    from gwtool.recording import header

    return header(proto, side="client", command=command, url=url, service=service)


def check_service(proto: Protocol, service: str) -> str:
    if service not in proto.services:
        raise GwtoolError(f"--as: unknown service type {service!r} (known: {', '.join(proto.services)})")
    return service


def did_you_mean(name: str, known: Any) -> str:
    match = next((k for k in known if k.lower() == name.lower() or k.lower() == name.lower().replace("-", "_")), None)
    return f" — did you mean {match}?" if match else ""


def make_client(url: str, service: str, token: str, compress: bool, proto: Protocol, **options: Any) -> GatewayClient:
    from gwtool.client import GatewayClient

    return GatewayClient(url, service=service, token=token, compress=compress, proto=proto, **options)


CLOSE_HINTS = {  # what a user can do about a close that ends the command
    "AUTHENTICATION_FAILED": "--token or GWTOOL_TOKEN sets the token gwtool sends",
    "INVALID_SERVICE": "the gateway does not know this service type: --as picks another, --protocol adds one",
}


def run_async(coro: Any, *, interrupted_status: int = 0) -> None:
    """Run a command's coroutine. Ctrl-C that the command did not handle exits quietly."""
    from gwtool.cli.running import run_on_fast_loop
    from gwtool.errors import ClosedByGateway

    try:
        run_on_fast_loop(coro)
    except KeyboardInterrupt:
        raise SystemExit(interrupted_status) from None
    except ClosedByGateway as exc:
        if (hint := CLOSE_HINTS.get(exc.name)) is None:
            raise
        raise ClosedByGateway(f"{exc}\n({hint})", exc.code, exc.name, exc.reason) from None
