"""``gwtool tui``: the live dashboard (textual is imported only when the command runs)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gwtool.cli.app import app
from gwtool.cli.options import CompressOption, ProtocolOption, ShowTokenOption, TokenOption, load


@app.command("tui")
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

    make_app(
        proto, url=url, service=service, token=token, compress=compress, quiet=quiet, limit=keep, show_token=show_token
    ).run()
