"""``gwtool bench``: load a gateway with senders → receivers of its round-robin event and measure it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from gwtool.cli.app import app
from gwtool.cli.help import GwtoolCommand
from gwtool.cli.options import LogOption, ProtocolOption, TokenOption, load
from gwtool.cli.running import open_log, with_close_hint
from gwtool.errors import ClosedByGateway

if TYPE_CHECKING:
    from typing import IO

    from rich.console import RenderableType

    from gwtool.bench import Bench, BenchConfig, BenchResult
    from gwtool.protocol.definition import Definition


@app.command("bench", cls=GwtoolCommand)
def bench(
    url: Annotated[
        Optional[str],
        typer.Option(
            "--url", metavar="URL", envvar="GWTOOL_URL", help="Gateway websocket URL. Without it, an embedded mock gateway."
        ),
    ] = None,
    senders: Annotated[
        int,
        typer.Option(
            "--sharders", "--senders", min=1, metavar="N", help="Connections that send the protocol's round-robin event."
        ),
    ] = 4,
    receivers: Annotated[
        int,
        typer.Option("--commands", "--receivers", min=1, metavar="N", help="Connections of the service type that receives it."),
    ] = 4,
    rate: Annotated[
        float, typer.Option("--rate", min=0, metavar="PER_SECOND", help="Events per second in all; 0 = as fast as it takes them.")
    ] = 2000,
    duration: Annotated[float, typer.Option("--duration", min=0.1, metavar="SECONDS", help="Seconds of sending.")] = 10,
    window: Annotated[
        int, typer.Option("--window", min=1, metavar="N", help="Events in flight per sender when --rate is 0.")
    ] = 64,
    token: TokenOption = "",
    protocol: ProtocolOption = None,
    json: Annotated[
        bool, typer.Option("--json", metavar="", help="Print the result as one JSON object instead of a table (no live view).")
    ] = False,
    processes: Annotated[
        int, typer.Option("--processes", min=1, metavar="N", help="Spread the load over N local processes (one core each).")
    ] = 1,
    log: LogOption = None,
) -> None:
    """Load a gateway: senders → receivers of its round-robin event (sharders → commands by default).

    Each event carries its sender, number and send time in an extra "bench" data field.

    Shows rate, sent, received, lost and latency p50/p99 live, then a table (--json: one object).
    """
    import asyncio

    from gwtool.bench import BenchConfig

    if url is not None:
        from gwtool.client.core import check_url

        check_url(url)  # not a websocket URL: exit 1 with a "did you mean", as for every command
    proto = load(protocol)
    config = BenchConfig(
        url=url or "", senders=senders, receivers=receivers, rate=rate, duration=duration, window=window, token=token
    )
    if processes > 1 and log is not None:
        raise typer.BadParameter("each process would need a log of its own: drop --log", param_hint="--processes")
    try:
        if processes > 1:
            result = asyncio.run(_run_processes(config, proto, json, processes, str(protocol) if protocol else None))
        else:
            with open_log(log) as log_file:  # its header once the URL is known (an embedded gateway's port)
                result = asyncio.run(_run(config, proto, json, log_file))
    except ClosedByGateway as exc:  # refused while identifying: say what to do about it (--token …)
        raise with_close_hint(exc) from None
    if json:
        from gwtool.bench import dumps

        print(dumps(result))
    else:
        from rich.console import Console

        Console().print(_final_table(result, embedded=url is None))
    if result.closes:
        raise typer.Exit(3)


async def _run(config: BenchConfig, proto: Definition, quiet: bool, log_file: IO[bytes] | None = None) -> BenchResult:
    if config.url:
        return await _logged(config, proto, quiet, log_file)
    from gwtool.gateway import MockGateway

    async with MockGateway(proto, token=config.token or None) as gw:
        config.url = gw.url
        return await _logged(config, proto, quiet, log_file)


async def _run_processes(
    config: BenchConfig, proto: Definition, quiet: bool, processes: int, protocol: str | None
) -> BenchResult:
    """The load over several processes; without --url, the mock gateway runs here, in this process."""
    import asyncio
    import contextlib

    from gwtool.bench import run_processes

    async with contextlib.AsyncExitStack() as stack:
        if not config.url:
            from gwtool.gateway import MockGateway

            gw = await stack.enter_async_context(MockGateway(proto, token=config.token or None))
            config.url = gw.url
        if quiet:
            return await asyncio.to_thread(run_processes, config, protocol, processes)
        from rich.console import Console

        with Console(stderr=True).status(f"{processes} processes loading {config.url} for {config.duration:g} s…"):
            return await asyncio.to_thread(run_processes, config, protocol, processes)


async def _logged(config: BenchConfig, proto: Definition, quiet: bool, log_file: IO[bytes] | None) -> BenchResult:
    """Run the bench; with --log, every event sent and received goes to the file as a Record."""
    from gwtool.bench import Bench

    if log_file is None:
        return await _drive(Bench(config, proto), quiet)
    from gwtool.logfile import header, write_header
    from gwtool.output import LogOutput

    write_header(log_file, header(proto, side="client", command="bench", url=config.url))
    config.log = output = LogOutput(log_file)
    try:
        return await _drive(Bench(config, proto), quiet)
    finally:
        output.close()


async def _drive(bench: Bench, quiet: bool) -> BenchResult:
    """Run the bench, redrawing a one-line progress table four times a second unless quiet."""
    import asyncio

    if quiet:
        return await bench.run()
    from rich.live import Live

    task = asyncio.create_task(bench.run())
    with Live(_progress(bench), refresh_per_second=4, transient=True) as live:
        while not task.done():
            await asyncio.wait({task}, timeout=0.25)
            live.update(_progress(bench))
    return task.result()


def _progress(bench: Bench) -> RenderableType:
    from rich.table import Table

    snap = bench.stats.snapshot()
    table = Table(box=None, pad_edge=False, title=f"gwtool bench {bench.config.url}", title_justify="left")
    for column in ("elapsed", "rate/s", "sent", "received", "in flight", "p50 ms", "p99 ms", "closes"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{snap['elapsed']:.1f}s",
        str(snap["rate"]),
        str(snap["sent"]),
        str(snap["received"]),
        str(snap["in_flight"]),
        _ms(snap["p50_ms"]),
        _ms(snap["p99_ms"]),
        str(snap["closes"]),
    )
    return table


def _final_table(result: BenchResult, *, embedded: bool) -> RenderableType:
    from rich.table import Table
    from rich.text import Text

    c = result.config
    where = "embedded mock gateway (same process)" if embedded else c.url
    table = Table(title=Text(f"gwtool bench: {where}"), show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    target = "as fast as it takes them" if not c.rate else f"{c.rate:g}/s"
    rows = [
        ("connections", f"{c.senders} → {c.receivers}" + (f" over {c.processes} processes" if c.processes > 1 else "")),
        ("target rate", target),
        ("sent", str(result.sent)),
        ("received", str(result.received)),
        ("lost", str(result.lost)),
        ("duplicates", str(result.duplicates)),
        ("rate", f"{result.rate:,.0f}/s over {result.seconds:.2f}s"),
        ("latency p50 / p99 / max", " / ".join(_ms(result.latency_ms[k]) for k in ("p50", "p99", "max")) + " ms"),
        ("heartbeat ack p50 / p99", " / ".join(_ms(result.ack_ms[k]) for k in ("p50", "p99")) + " ms"),
    ]
    for name, value in rows:
        table.add_row(name, Text(value, style="red" if name == "lost" and result.lost else ""))
    for service, code, reason in result.closes[:5]:
        table.add_row("closed by gateway", Text(f"{service}: {code} {reason}", style="red"))
    return table


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
