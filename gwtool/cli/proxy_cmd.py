"""``gwtool proxy``: see, check and shape the wire between real services and a real gateway."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from gwtool.cli.app import app
from gwtool.cli.help import GwtoolCommand
from gwtool.cli.options import (
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
    load,
)
from gwtool.cli.running import install_stop_signals, open_log
from gwtool.loop import run_on_fast_loop
from gwtool.proxy import DEFAULT_PORT as DEFAULT_PROXY_PORT  # (the proxy's server is imported on first use)

if TYPE_CHECKING:
    from collections.abc import Callable

    from gwtool.protocol.definition import Definition
    from gwtool.proxy import Proxy, ProxySettings
    from gwtool.records import Notice, Record

FLAGS = {  # ProxySettings' names → this command's flags, for InvalidSetting
    "upstream": "--upstream", "host": "--host", "port": "--port", "max_size": "--max-size", "max_queue": "--max-queue",
    "open_timeout": "--open-timeout", "handshake_timeout": "--handshake-timeout", "ack_timeout": "--ack-timeout",
    "faults": "--fault", "control_port": "--control",
}  # fmt: skip


@app.command("proxy", cls=GwtoolCommand)
def proxy(
    upstream: Annotated[
        str,
        typer.Option("--upstream", metavar="URL", help="The gateway to proxy to, e.g. ws://127.0.0.1:8765.", show_default=False),
    ],
    host: Annotated[str, typer.Option(metavar="HOST", help="Address to listen on (127.0.0.1 keeps it local).")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(metavar="PORT", help="Port services connect to instead of the gateway's (0 = any free port).")
    ] = DEFAULT_PROXY_PORT,
    fault: Annotated[
        Optional[list[str]],
        typer.Option(
            "--fault",
            metavar="RULE",
            help="A fault to inject: an action, then which payloads, e.g. 'drop op:HEARTBEAT_ACK service:sharder', "
            "'delay 200±50 t:EXECUTE_COMMAND', 'close 4009 after 100 from:gateway' (repeatable; docs/proxy.md has the grammar).",
            show_default=False,
        ),
    ] = None,
    control: Annotated[
        Optional[int],
        typer.Option(
            "--control",
            metavar="PORT",
            help="Serve the HTTP control API (JSON: list, add, remove, reset rules) on PORT.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        Optional[int],
        typer.Option(
            metavar="N", help="Seed the faults' random choices (P%, jitter) for a run that repeats.", show_default=False
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", metavar="", help="Close a connection on its first violation, with the definition's code."),
    ] = False,
    max_size: Annotated[
        int, typer.Option(metavar="BYTES", help="Largest message either way, and largest decompressed payload checked.")
    ] = 16 << 20,
    max_queue: Annotated[
        int,
        typer.Option(metavar="N", help="Messages read from one side and not yet forwarded before the proxy stops reading it."),
    ] = 16,
    open_timeout: Annotated[
        float, typer.Option(metavar="SECONDS", help="How long the upstream's websocket handshake (and a REST answer) may take.")
    ] = 10.0,
    handshake_timeout: Annotated[
        float, typer.Option(metavar="SECONDS", help="How long the gateway may take to send HELLO, and IDENTIFIED after IDENTIFY.")
    ] = 10.0,
    ack_timeout: Annotated[
        Optional[float],
        typer.Option(
            metavar="MS", help="How long an ACK may take, in ms (default: the heartbeat interval from HELLO).", show_default=False
        ),
    ] = None,
    allow_origin: AllowOriginOption = None,
    protocol: ProtocolOption = None,
    log: LogOption = None,
    json: JsonOption = False,
    every: EveryOption = False,
    filter_: FilterOption = None,
    quiet: QuietOption = False,
    show_token: ShowTokenOption = False,
) -> int:
    """Proxy services to a real gateway: show every payload both ways, check each against the protocol in its direction, and report each violation.

    Services connect to the proxy's port as they would to the gateway; each gets its own connection to --upstream, and every message is forwarded unchanged.

    Exit status: 0 after Ctrl-C with no violation seen; 1 a violation was seen, or invalid input; 2 the port cannot be used.
    """
    from gwtool.errors import InvalidSetting
    from gwtool.proxy.faults import check_rules
    from gwtool.proxy.settings import ProxySettings

    try:
        settings = ProxySettings(
            upstream=upstream, host=host, port=port, strict=strict, max_size=max_size, max_queue=max_queue,
            open_timeout=open_timeout, handshake_timeout=handshake_timeout,
            ack_timeout=ack_timeout / 1000 if ack_timeout is not None else None,
            allow_origins=tuple(allow_origin or ()), show_token=show_token, faults=tuple(fault or ()),
            control_port=control, seed=seed,
        )  # fmt: skip
    except InvalidSetting as exc:
        raise typer.BadParameter(exc.problem, param_hint=FLAGS.get(exc.name, exc.name)) from None
    proto = load(protocol)
    try:  # before anything listens
        check_rules(settings.faults, proto)
    except InvalidSetting as exc:
        raise typer.BadParameter(exc.problem, param_hint=FLAGS.get(exc.name, exc.name)) from None
    hide = filter_hide(filter_, proto, "gw")
    if (fault or control is not None) and not json and sys.stdout.isatty():
        hide = _fewer_injected(hide)
    with open_log(log) as log_file:  # its header is written once the proxy listens (its real URL)
        console = ConsoleSettings(json=json, every=every, quiet=quiet, log=log_file)
        try:
            return run_on_fast_loop(_serve(proto, settings, console, hide))
        except KeyboardInterrupt:  # a second Ctrl-C during shutdown
            return 130


INJECTED_LINES = 20  # injected notices a terminal shows a second; the summary's figures count them all


def _fewer_injected(hide: Callable[[Record | Notice], bool] | None) -> Callable[[Record | Notice], bool]:
    """A terminal's ``hide``: a rule that selects a flood would print a line per payload, so past
    INJECTED_LINES a second they are counted (the summary line's figures), not printed. --json and
    --log keep every one."""
    import time

    window = [0.0, 0]

    def hidden(item: Record | Notice) -> bool:
        if hide is not None and hide(item):
            return True
        if getattr(item, "kind", None) != "injected":
            return False
        now = time.monotonic()
        if now - window[0] >= 1.0:
            window[0], window[1] = now, 0
        window[1] += 1
        return window[1] > INJECTED_LINES

    return hidden


async def _serve(
    proto: Definition, settings: ProxySettings, console: ConsoleSettings, hide: Callable[[Record | Notice], bool] | None
) -> int:
    import asyncio
    import gc

    from gwtool.proxy import Proxy

    proxy = Proxy(proto, settings)
    await proxy.start()  # ListenFailed (exit 2) surfaces through main()
    if console.log is not None:
        from gwtool.logfile import header, write_header

        # the gateway's view of every connection (in: from services): replay, validate and tui --open read it so
        write_header(console.log, {**header(proto, side="gateway", command="proxy", url=proxy.url), "upstream": proxy.upstream})
    output = console.output(proto, show_conn=True, figures=lambda: _figures(proxy), hide=hide)
    stop = asyncio.Event()
    install_stop_signals(stop)
    proxy.subscribe(output)
    gc.freeze()  # what start-up made (typer, rich, the definition) lives on: keep it out of collections
    output.message(f"proxy listening on {proxy.url} → upstream {proxy.upstream}  ·  REST {proxy.http_url}/services/", "bold")
    output.message(f"connect services to {proxy.url} instead of the gateway  ·  Ctrl-C stops")
    for rule in proxy.rules:
        output.message(f"fault rule {rule.id}: {rule.text}", "magenta")
    if proxy.control is not None:
        output.message(f"control API on {proxy.control.url}/rules (GET lists, POST adds, DELETE /rules/ID removes)", "magenta")
    if settings.strict:
        output.message("--strict: a connection is closed on its first violation", "yellow")
    try:
        await stop.wait()
    finally:
        output.message("stopping: closing every connection, both sides, with 1001 GOING_AWAY")
        try:
            await proxy.stop()
        finally:
            violations = sum(proxy.counts.violations.values())
            output.message(f"verdict: {proxy.verdict()}", "bold red" if violations else "bold green")
            await output.aclose()
    return 1 if violations else 0


def _figures(proxy: Proxy) -> str:
    """The proxy's own figures for the console's summary lines."""
    from gwtool.text import plural

    c = proxy.counts
    text = f"{plural(proxy.connection_count, 'connection')} · violations: services {c.violations['service']:,}, gateway {c.violations['gateway']:,}"
    return text + (f" · {plural(c.injected, 'fault')} injected" if c.injected else "")
