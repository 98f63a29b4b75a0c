"""``gwtool connect | send | cache``: impersonate any service type of the protocol definition.

Thin over ``gwtool.client.GatewayClient``; the client and websockets are imported inside the
commands so that ``gwtool --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from gwtool.cli.app import app
from gwtool.cli.data import build_data, invalid_data, one_data
from gwtool.cli.help import GwtoolCommand
from gwtool.cli.options import (
    DEFAULT_URL,
    CompressOption,
    ConsoleSettings,
    DataOption,
    EveryOption,
    FilterOption,
    JsonOption,
    LogOption,
    ProtocolOption,
    QuietOption,
    ServiceOption,
    SetOption,
    ShowTokenOption,
    TokenOption,
    UrlOption,
    check_url_option,
    filter_hide,
    known_service,
    load,
    settings_flags,
)
from gwtool.cli.running import install_stop_signals, open_log, run_async, stop_signals
from gwtool.errors import GwtoolError, InvalidSetting

if TYPE_CHECKING:
    from collections.abc import Iterable

    from gwtool.client import GatewayClient
    from gwtool.client.sending import SendPlan
    from gwtool.protocol.definition import Definition
    from gwtool.records import Notice, Record

RepeatOption = Annotated[int, typer.Option("--repeat", min=1, metavar="N", help="Send it N times.")]
RateOption = Annotated[
    Optional[float], typer.Option("--rate", min=0.001, metavar="PER_SECOND", help="With --repeat: at most this many per second.")
]
WaitForOption = Annotated[
    Optional[str], typer.Option("--wait-for", metavar="EVENT", help="Then wait for this event and print it.")
]
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout", min=0.0, metavar="SECONDS", help="Seconds to wait for identifying, for the final ACK and for --wait-for."
    ),
]
CacheTimeoutOption = Annotated[
    float, typer.Option("--timeout", min=0.0, metavar="SECONDS", help="Seconds to wait for identifying and for the final ACK.")
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
    ctx: typer.Context,
    url: UrlOption = DEFAULT_URL,
    service: ServiceOption = None,
    token: TokenOption = "",
    compress: CompressOption = False,
    protocol: ProtocolOption = None,
    json: JsonOption = False,
    duration: Annotated[Optional[float], typer.Option(min=0.0, metavar="SECONDS", help="Stop after this long.")] = None,
    count: Annotated[
        Optional[int],
        typer.Option(min=1, metavar="N", help="Stop after N payloads received (of those shown) and close: exactly N are shown."),
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
    """
    from gwtool.client import GatewayClient
    from gwtool.logfile import client_header

    proto = load(protocol)
    service = known_service(proto, service or next(iter(proto.services)))
    check_url_option(ctx, url)
    watch = Watch(duration=duration, count=count, hide_heartbeats=no_heartbeat_lines, hide=filter_hide(filter_, proto, "you"))
    with open_log(log, lambda: client_header(proto, "connect", url, service)) as log_file:
        client = GatewayClient(
            url, service=service, token=token, compress=compress, proto=proto, heartbeat=not no_heartbeat, guilds=guilds,
            reconnect=True, open_timeout=timeout, show_token=show_token,
        )  # fmt: skip
        run_async(_connect(client, ConsoleSettings(json=json, every=every, quiet=quiet, log=log_file), watch))


@dataclass(frozen=True, slots=True)
class Watch:
    """When ``connect`` stops, and what it keeps off stdout: --duration, --count, --no-heartbeat-lines."""

    duration: float | None = None
    count: int | None = None  # payloads received, of those shown
    hide_heartbeats: bool = False
    hide: Callable[[Record | Notice], bool] | None = None  # --filter: the payloads it does not match


async def _connect(client: GatewayClient, console: ConsoleSettings, watch: Watch) -> None:
    import asyncio

    from gwtool.client.sending import run_until
    from gwtool.records import Record

    heartbeat_ops = {client.proto.op("HEARTBEAT"), client.proto.op("HEARTBEAT_ACK")}
    enough = asyncio.Event()

    def hidden(item: Record | Notice) -> bool:
        return (watch.hide_heartbeats and isinstance(item, Record) and item.op in heartbeat_ops) or bool(
            watch.hide is not None and watch.hide(item)
        )

    # stdout going away (| head) stops it like --count would
    output = console.output(client.proto, hide=hidden, figures=lambda: latency_figures(client), on_closed=enough.set)
    client.subscribe(output)
    if (count := watch.count) is not None:
        shown = 0

        def count_received(item: Record | Notice) -> None:
            nonlocal shown
            if isinstance(item, Record) and item.direction == "in" and not hidden(item):
                shown += 1
                if shown >= count:
                    client.stop()  # exactly N: nothing read after this one is shown
                    enough.set()

        client.subscribe(count_received)
    try:
        install_stop_signals(enough)
        await run_until(client, enough, watch.duration)
        output.message(f"{client.sent_count} sent · {client.received_count} received · latency {client.latency.summary()}")
    finally:
        await output.aclose()


def latency_figures(client: GatewayClient) -> str:
    """The client's heartbeat round trip, for the console's summary lines."""
    stats = client.latency
    if stats.last is None:
        return "♥ no ACK yet"
    return f"♥ p50 {stats.p50:.2f} ms · p99 {stats.percentile(99):.2f} ms"


# --- send / cache -------------------------------------------------------------------------------


@app.command(cls=GwtoolCommand)
def send(
    ctx: typer.Context,
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
    """
    from gwtool.logfile import client_header
    from gwtool.protocol.examples import event_data

    proto = load(protocol)
    known = proto.events.get(event)
    if known is None:
        raise GwtoolError(f"unknown event {event!r}{did_you_mean(event, proto.events)} (known: {', '.join(proto.events)})")
    if service is None:
        service = proto.first_sender(event)
        if service is None:
            raise GwtoolError(
                f"no service type may send {event} (from: {', '.join(known.sources)}); use --as SERVICE --force to send it anyway"
            )
    sender = known_service(proto, service)
    plan = _send_plan(proto, sender, repeat=repeat, rate=rate, wait_for=wait_for, timeout=timeout)
    check_url_option(ctx, url)
    d = build_data(one_data(data), set_ or [], event_data(proto, event), known.fields, proto)
    payload = {"op": proto.op("EVENT"), "t": event, "d": d}
    with open_log(log, lambda: client_header(proto, "send", url, sender)) as log_file:
        client = _sending_client(proto, url, sender, token, compress, show_token, plan)
        console = ConsoleSettings(json=json, every=every, quiet=quiet, log=log_file)
        _send_command(client, payload, event, plan, console, verbose=verbose, validate=not no_validate, force=force)


@app.command(cls=GwtoolCommand)
def cache(
    ctx: typer.Context,
    cache_type: Annotated[
        str, typer.Argument(metavar="TYPE", help="Cache type, e.g. one listed by `gwtool protocol`.", show_default=False)
    ],
    data: DataOption = None,
    set_: SetOption = None,
    repeat: RepeatOption = 1,
    rate: RateOption = None,
    timeout: CacheTimeoutOption = 10.0,
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
    """
    from gwtool.logfile import client_header
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
    sender = known_service(proto, service)
    plan = _send_plan(proto, sender, repeat=repeat, rate=rate, wait_for=None, timeout=timeout)
    check_url_option(ctx, url)
    d = build_data(one_data(data), set_ or [], cache_data(proto, cache_type), structure.fields, proto)
    payload = {"op": proto.op("CACHE"), "type": cache_type, "d": d}
    with open_log(log, lambda: client_header(proto, "cache", url, sender)) as log_file:
        client = _sending_client(proto, url, sender, token, compress, show_token, plan)
        console = ConsoleSettings(json=json, every=every, quiet=quiet, log=log_file)
        _send_command(client, payload, cache_type, plan, console, verbose=verbose, validate=not no_validate, force=force)


def _send_plan(
    proto: Definition, service: str, *, repeat: int, rate: float | None, wait_for: str | None, timeout: float
) -> SendPlan:
    """--repeat, --rate, --wait-for and --timeout as the client core's SendPlan, refused up front
    when the reply cannot come (an event the service type never receives)."""
    from gwtool.client.sending import SendPlan, check_reply

    if wait_for is not None:
        try:
            check_reply(proto, service, wait_for)
        except InvalidSetting as exc:
            raise GwtoolError(f"--wait-for {exc.problem}") from None
    with settings_flags():
        return SendPlan(repeat=repeat, rate=rate, wait_for=wait_for, timeout=timeout)


def _sending_client(
    proto: Definition, url: str, service: str, token: str, compress: bool, show_token: bool, plan: SendPlan
) -> GatewayClient:
    """A client for one run of sends: heartbeating, never reconnecting (a close ends the run)."""
    from gwtool.client import GatewayClient

    return GatewayClient(
        url, service=service, token=token, compress=compress, proto=proto, reconnect=False,
        open_timeout=plan.open_timeout, show_token=show_token,
    )  # fmt: skip


def _send_command(
    client: GatewayClient, payload: dict[str, Any], what: str, plan: SendPlan, console: ConsoleSettings, *,
    verbose: bool, validate: bool, force: bool,
) -> None:  # fmt: skip
    from gwtool.client import NotAllowed
    from gwtool.errors import InvalidPayload

    try:
        client.check_payload(payload, validate=validate, force=force)
    except InvalidPayload as exc:
        raise invalid_data(what, exc.errors, "--no-validate sends it anyway") from None
    except NotAllowed as exc:
        raise GwtoolError(
            f"{str(exc).partition(';')[0]}\n(--as another service type, or --force to test the gateway's refusal)"
        ) from None
    run_async(_send(client, payload, what, plan, console, verbose), interrupted_status=130)


async def _send(
    client: GatewayClient, payload: dict[str, Any], what: str, plan: SendPlan, console: ConsoleSettings, verbose: bool
) -> None:
    import asyncio

    from gwtool.client.sending import send
    from gwtool.console import human_size
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
        if item.direction == "in" and plan.wait_for is not None and item.t == plan.wait_for and not replied:
            replied = True
            return False
        return not (item.direction == "out" and item.op == op)

    output = console.output(client.proto, hide=hidden, figures=lambda: latency_figures(client))
    client.subscribe(output)
    stop = asyncio.Event()  # Ctrl-C and SIGTERM: the run stops and says how far it got
    try:
        with stop_signals(stop):
            sent = await send(client, payload, plan, what=what, stop=stop)
        times = f" {sent.count}×" if sent.count > 1 else ""
        output.message(f"sent{times} {what} as {client.service} to {client.url} ({human_size(sent.size)})")
    finally:
        await output.aclose()


def did_you_mean(name: str, known: Iterable[str]) -> str:
    match = next((k for k in known if k.lower() == name.lower() or k.lower() == name.lower().replace("-", "_")), None)
    return f" — did you mean {match}?" if match else ""
