"""``gwtool tui``: the live dashboard (textual is imported only when the command runs)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gwtool.cli.app import app
from gwtool.cli.help import GwtoolCommand
from gwtool.cli.options import DEFAULT_PORT, CompressOption, ProtocolOption, ShowTokenOption, TokenOption, load


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
    options = dict(service=service, token=token, compress=compress, quiet=quiet, limit=keep, show_token=show_token, port=port)
    make_app(proto, url=url, **options).run()
