"""``gwtool mock-gateway``: run the strict mock gateway with a readable console."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from gwtool.cli.app import app
from gwtool.cli.help import GwtoolCommand
from gwtool.cli.options import (
    DEFAULT_PORT,
    AllowOriginOption,
    ConsoleSettings,
    EveryOption,
    FilterOption,
    JsonOption,
    LogOption,
    ProtocolOption,
    QuietOption,
    ShowTokenOption,
    filter_hide,
    from_environment,
    load,
    settings_flags,
)
from gwtool.cli.running import install_stop_signals, open_log
from gwtool.loop import run_on_fast_loop
from gwtool.text import plural

if TYPE_CHECKING:
    import asyncio
    from types import ModuleType

    from gwtool.gateway import MockGateway
    from gwtool.gateway.settings import Ack, GatewaySettings
    from gwtool.output import WireOutput
    from gwtool.protocol.definition import Definition
    from gwtool.records import Notice, Record

ACK_FLAG: dict[str, Ack] = {"always": "always", "without-d": "without_d", "never": "never"}  # --ack's words


def parse_rate_limit(text: str | None) -> tuple[int, float] | None:
    """``"120/60"`` → (120, 60.0): at most 120 payloads per connection in any 60 s window (the
    gateway's settings say whether the numbers can be)."""
    if not text:
        return None
    count, _, seconds = text.partition("/")
    try:
        return int(count), float(seconds or "1")
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected N/SECONDS, e.g. 120/60", param_hint="--rate-limit") from None


@app.command("mock-gateway", cls=GwtoolCommand)
def mock_gateway(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(metavar="HOST", help="Address to listen on (127.0.0.1 keeps it local).")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(metavar="PORT", help="Port for the websocket and the REST routes (0 = any free port).")
    ] = DEFAULT_PORT,
    heartbeat_interval: Annotated[int, typer.Option(metavar="MS", help="heartbeatInterval sent in HELLO, in ms.")] = 30000,
    token: Annotated[
        Optional[str],
        typer.Option(
            metavar="TOKEN",
            envvar="GWTOOL_TOKEN",
            show_envvar=True,
            help="Token services must send in IDENTIFY (default: accept any).",
        ),
    ] = None,
    max_shards: Annotated[int, typer.Option(metavar="N", help="Shard ids 0 … N-1 handed out to sharders.")] = 3,
    shards_per_sharder: Annotated[int, typer.Option(metavar="N", help="Shard ids per sharder (its block).")] = 3,
    max_size: Annotated[int, typer.Option(metavar="BYTES", help="Largest payload accepted, in bytes (over it: close 1009).")] = 1
    << 20,
    rate_limit: Annotated[
        Optional[str], typer.Option(metavar="N/SECONDS", help="Close a connection sending more than N payloads in SECONDS.")
    ] = None,
    hold: Annotated[
        int, typer.Option(metavar="N", help="Events held while no receiver is connected (oldest dropped past it).")
    ] = 1000,
    hold_bytes: Annotated[int, typer.Option(metavar="BYTES", help="Bytes of held events at most (oldest dropped past it).")] = 64
    << 20,
    identify_timeout: Annotated[
        float,
        typer.Option(metavar="SECONDS", help="Close a connection that has not identified this long after connecting (4003)."),
    ] = 30.0,
    ack: Annotated[
        str,
        typer.Option(
            "--ack",
            metavar="always|without-d|never",
            help="How heartbeats are answered: never and without-d let a service's developer see it cope.",
        ),
    ] = "always",
    request_heartbeats: Annotated[
        Optional[float], typer.Option(metavar="SECONDS", help="Ask every service for a heartbeat every SECONDS.")
    ] = None,
    allow_origin: AllowOriginOption = None,
    protocol: ProtocolOption = None,
    log: LogOption = None,
    json: JsonOption = False,
    every: EveryOption = False,
    quiet: QuietOption = False,
    filter_: FilterOption = None,
    show_token: ShowTokenOption = False,
) -> None:
    """Run a strict mock gateway: services connect to it and it tells them exactly what they got wrong.

    Exit status: 0 after Ctrl-C (every connection is closed with 1001), 1 invalid input, 2 the port cannot be used.
    """
    from gwtool.gateway.settings import GatewaySettings

    if ack not in ACK_FLAG:
        raise typer.BadParameter(
            f"expected {', '.join(list(ACK_FLAG)[:-1])} or {list(ACK_FLAG)[-1]}, got {ack!r}", param_hint="--ack"
        )
    if request_heartbeats is not None and request_heartbeats <= 0:
        raise typer.BadParameter(f"must be > 0, got {request_heartbeats}", param_hint="--request-heartbeats")
    with settings_flags(allow_origins="--allow-origin"):
        settings = GatewaySettings(
            host=host, port=port, heartbeat_interval=heartbeat_interval, token=token, max_shards=max_shards,
            shards_per_sharder=shards_per_sharder, max_size=max_size, rate_limit=parse_rate_limit(rate_limit), hold=hold,
            hold_bytes=hold_bytes, identify_timeout=identify_timeout, allow_origins=tuple(allow_origin or ()),
            show_token=show_token, ack=ACK_FLAG[ack],
        )  # fmt: skip
    proto = load(protocol)
    token_from = "GWTOOL_TOKEN" if token and from_environment(ctx, "token") else None  # say so: nobody typed it

    with open_log(log) as log_file:  # its header is written once the gateway listens (its real URL)
        console = ConsoleSettings(json=json, every=every, quiet=quiet, log=log_file)
        hide = filter_hide(filter_, proto, "gw")
        try:
            run_on_fast_loop(_serve(proto, settings, console, request_heartbeats, token_from, hide))
        except KeyboardInterrupt:  # a second Ctrl-C during shutdown
            pass


async def _serve(
    proto: Definition,
    settings: GatewaySettings,
    console: ConsoleSettings,
    request_every: float | None,
    token_from: str | None,
    hide: Callable[[Record | Notice], bool] | None,
) -> None:
    import asyncio
    import gc

    from gwtool.gateway import MockGateway

    gw = MockGateway(proto, settings)
    await gw.start()  # ListenFailed (exit 2) surfaces through main()
    if console.log is not None:
        from gwtool.logfile import header, write_header

        write_header(console.log, header(proto, side="gateway", command="mock-gateway", url=gw.url))
    output = console.output(proto, show_conn=True, figures=lambda: _figures(gw), hide=hide)
    stop = asyncio.Event()
    install_stop_signals(stop)
    loop = asyncio.get_running_loop()
    gw.subscribe(output)
    warn_open_files = _open_files_warning(output)
    loop.set_exception_handler(_loop_errors(warn_open_files))
    watch = asyncio.create_task(_watch_open_files(warn_open_files))
    gc.freeze()  # what start-up made (typer, rich, the definition) lives on: keep it out of collections
    output.message(f"mock gateway listening on {gw.url}  ·  REST {gw.http_url}/services/  {gw.http_url}/cache/", "bold")
    output.message(f"connect a service to {gw.url}  (e.g. gwtool connect --url {gw.url})  ·  Ctrl-C stops")
    if gw.token is None:
        output.message("no token configured (--token / GWTOOL_TOKEN): any token is accepted", "yellow")
    elif token_from is not None:
        output.message(f"services must send the token set in {token_from} (this shell's environment)", "yellow")
    if gw.ack != "always":
        what = "never answered" if gw.ack == "never" else "answered without d"
        output.message(f"--ack {gw.ack.replace('_', '-')}: heartbeats are {what}", "yellow")
    requests = asyncio.create_task(_request_heartbeats(gw, request_every)) if request_every else None
    try:
        await stop.wait()
    finally:
        watch.cancel()
        if requests is not None:
            requests.cancel()
        output.message("stopping: closing every connection with 1001 GOING_AWAY")
        try:
            await gw.stop()
        finally:
            await output.aclose()


def _open_files_warning(output: WireOutput) -> Callable[[], None]:
    """Say that connections are refused for want of file descriptors: one line every 5 s at most,
    with how often it was seen meanwhile."""
    import time

    last, seen = [0.0], [0]

    def warn() -> None:
        seen[0] += 1
        if time.monotonic() - last[0] >= 5.0:
            last[0] = time.monotonic()
            output.message(
                "cannot accept connections: too many open files (the process's limit, ulimit -n); "
                f"seen {plural(seen[0], 'time')} so far, connections are refused until some close", "bold red",
            )  # fmt: skip

    return warn


def _loop_errors(warn: Callable[[], None]) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
    """The stock event loop's error handler: a failed accept for want of file descriptors is the
    warning, not a traceback per refused connection."""
    import errno

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
            warn()
            return
        loop.default_exception_handler(context)

    return handle


def _raise_open_files_limit(resource: ModuleType) -> int:
    """A load test opens thousands of connections: take the soft limit up to the hard one (at
    most 65,536). Returns the soft limit in force."""
    limits: tuple[int, int] = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = limits
    wanted = min(hard, 1 << 16)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            return soft
        return wanted
    return soft


async def _watch_open_files(warn: Callable[[], None], every: float = 1.0) -> None:
    """Count the open file descriptors once a second and warn when none is left. uvloop (libuv)
    accepts and at once closes a connection it has no descriptor for, without telling anyone, so
    the error handler above never hears of it there."""
    import asyncio
    import errno
    import os

    try:
        import resource
    except ImportError:  # not on this platform
        return
    soft = _raise_open_files_limit(resource)
    where = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    while True:
        await asyncio.sleep(every)
        try:
            used = len(os.listdir(where)) - 1  # less the listing's own
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):  # not even one left to list them with
                warn()
                continue
            return
        if soft != resource.RLIM_INFINITY and used >= soft - 1:
            warn()


def _figures(gw: MockGateway) -> str:
    """The gateway's own figures for the console's summary lines."""
    return f"{plural(gw.connection_count, 'connection')} · {gw.held_count:,} held"


async def _request_heartbeats(gw: MockGateway, seconds: float) -> None:
    import asyncio

    while True:
        await asyncio.sleep(seconds)
        await gw.request_heartbeat()
