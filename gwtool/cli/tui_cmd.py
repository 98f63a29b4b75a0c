"""``gwtool tui``: the live dashboard (textual is imported only when the command runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gwtool.cli.app import app
from gwtool.cli.client_cmds import recording_header
from gwtool.cli.help import GwtoolCommand
from gwtool.cli.options import DEFAULT_PORT, CompressOption, LogOption, ProtocolOption, ShowTokenOption, TokenOption, load
from gwtool.cli.running import open_log


@app.command("tui", cls=GwtoolCommand)
def tui(
    url: Annotated[
        Optional[str],
        typer.Option(
            "--url",
            metavar="URL",
            envvar="GWTOOL_URL",
            show_envvar=True,
            help="Gateway websocket URL. Without it, a mock gateway runs in-process and is shown too.",
        ),
    ] = None,
    service: Annotated[
        Optional[str],
        typer.Option(
            "--as",
            metavar="SERVICE",
            help="Service type to connect as (default: the first one routed events go to, e.g. commands).",
            show_default=False,
        ),
    ] = None,
    token: TokenOption = "",
    compress: CompressOption = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="On the embedded gateway, do not simulate a service sending payloads.", metavar="")
    ] = False,
    keep: Annotated[
        int, typer.Option("--keep", min=100, metavar="N", help="Payloads kept for the stream and detail view.")
    ] = 10_000,
    protocol: ProtocolOption = None,
    show_token: ShowTokenOption = False,
    port: Annotated[
        int,
        typer.Option(
            metavar="PORT",
            help="Without --url: the embedded gateway's port, for a service of your own to connect to "
            "(a free one if it is taken, said in the stream).",
        ),
    ] = DEFAULT_PORT,
    open_: Annotated[
        Optional[Path],
        typer.Option(
            "--open", metavar="FILE", dir_okay=False, help="View a recording (--log of any command): no network at all."
        ),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", metavar="", help="With --open: show lines appended to the file as they come (tail -f).")
    ] = False,
    log: LogOption = None,
) -> None:
    """Live dashboard: payload stream, detail, latency, cache, services and a composer.

    Exit status: 0 on quit, 1 invalid input.
    """
    proto = load(protocol)
    if service is not None and service not in proto.services:
        raise typer.BadParameter(f"unknown service type {service!r} (known: {', '.join(proto.services)})", param_hint="--as")
    if url is not None and not url.startswith(("ws://", "wss://")):
        raise typer.BadParameter(f"{url!r}: expected a ws:// or wss:// URL", param_hint="--url")
    from gwtool.tui.app import make_app

    if not 0 <= port <= 65535:
        raise typer.BadParameter(f"expected a port 0…65535 (0 = any free one), got {port}", param_hint="--port")
    if follow and open_ is None:
        raise typer.BadParameter("--follow needs --open FILE", param_hint="--follow")
    if open_ is not None:
        if url is not None or log is not None:
            raise typer.BadParameter("a recording is viewed with no network: drop --url / --log", param_hint="--open")
        if not open_.is_file():
            raise typer.BadParameter(f"{open_}: no such file", param_hint="--open")
        make_app(proto, recording=open_, follow=follow, limit=keep).run()
        return
    options = dict(service=service, token=token, compress=compress, quiet=quiet, limit=keep, show_token=show_token, port=port)
    with open_log(
        log, lambda: recording_header(proto, "tui", url or f"ws://127.0.0.1:{port}", service or proto.first_receiver())
    ) as log_file:
        make_app(proto, url=url, log=log_file, **options).run()
