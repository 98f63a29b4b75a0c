"""``gwtool tui``: the live dashboard (textual is imported only when the command runs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from gwtool.cli.app import app
from gwtool.cli.help import GwtoolCommand
from gwtool.cli.options import (
    DEFAULT_PORT,
    CompressOption,
    LogOption,
    ProtocolOption,
    ShowTokenOption,
    TokenOption,
    from_environment,
    load,
    settings_flags,
)
from gwtool.cli.running import open_log
from gwtool.proxy import DEFAULT_PORT as DEFAULT_PROXY_PORT  # (the proxy's server is imported on first use)

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition


@app.command("tui", cls=GwtoolCommand)
def tui(
    ctx: typer.Context,
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
            f"(a free one if it is taken, said in the stream). With --proxy: the proxy's (default {DEFAULT_PROXY_PORT}).",
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
    web: Annotated[
        bool, typer.Option("--web", metavar="", help="Serve the dashboard to browsers (textual-serve): a dashboard per tab.")
    ] = False,
    web_host: Annotated[
        str, typer.Option("--web-host", metavar="HOST", help="With --web: the address to serve on (127.0.0.1 keeps it local).")
    ] = "127.0.0.1",
    web_port: Annotated[int, typer.Option("--web-port", metavar="PORT", help="With --web: the HTTP port.")] = 8000,
    proxy: Annotated[
        Optional[str],
        typer.Option(
            "--proxy",
            metavar="UPSTREAM",
            help=f"Run a proxy to this gateway in-process (on --port, {DEFAULT_PROXY_PORT} by default) and show every "
            "connection through it, both ways, with a Faults pane (docs/proxy.md).",
            show_default=False,
        ),
    ] = None,
    fault: Annotated[
        Optional[list[str]],
        typer.Option(
            "--fault",
            metavar="RULE",
            help="With --proxy: a fault rule to start with, e.g. 'drop op:HEARTBEAT_ACK service:sharder' (repeatable).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Live dashboard: payload stream, detail, latency, cache, services and a composer.

    --web serves it to browsers instead: every tab gets a dashboard, and without --url they all watch one embedded gateway.

    --proxy UPSTREAM runs a proxy between your services and that gateway instead: point them at --port.

    Exit status: 0 on quit (after Ctrl-C or SIGTERM with --web), 1 invalid input, 2 the --web port (or the --proxy port) cannot be used.
    """
    proto = load(protocol)
    if proxy is not None:
        _over_proxy(ctx, proto, proxy, port, fault or [], keep=keep, show_token=show_token, log=log)
        return
    if fault:
        raise typer.BadParameter("fault rules act in a proxy: add --proxy UPSTREAM", param_hint="--fault")
    if service is not None and service not in proto.services:
        raise typer.BadParameter(proto.unknown_service_text(service), param_hint="--as")
    url_from_env = from_environment(ctx, "url")
    if open_ is not None and url_from_env:
        url = None  # $GWTOOL_URL is a default for the live dashboard: a recording needs no gateway
    if url is not None and not url.startswith(("ws://", "wss://")):
        from gwtool.client.core import url_hint

        problem = f"{url!r}: expected a ws:// or wss:// URL{url_hint(url)}"
        raise typer.BadParameter(problem, param_hint="GWTOOL_URL" if url_from_env else "--url")
    from gwtool.gateway.settings import GatewaySettings
    from gwtool.tui.app import make_app

    with settings_flags():  # the embedded gateway's port, checked as the gateway checks it
        GatewaySettings(port=port)
    if follow and open_ is None:
        raise typer.BadParameter("--follow needs --open FILE", param_hint="--follow")
    if open_ is not None and (url is not None or log is not None):
        raise typer.BadParameter("a recording is viewed with no network: drop --url / --log", param_hint="--open")
    options = Dashboard(
        service=service, token=token, compress=compress, quiet=quiet, keep=keep, protocol=protocol, show_token=show_token,
        port=port, recording=open_, follow=follow, log=log,
    )  # fmt: skip
    if web:
        _serve_web(proto, url, options, web_host, web_port)
        return
    if open_ is not None:
        if not open_.is_file():
            raise typer.BadParameter(f"{open_}: no such file", param_hint="--open")
        make_app(proto, recording=open_, follow=follow, limit=keep).run()
        return
    from gwtool.logfile import client_header

    where = url or f"ws://127.0.0.1:{port}"
    with open_log(log, lambda: client_header(proto, "tui", where, service or proto.first_receiver())) as log_file:
        make_app(
            proto, url=url, log=log_file, service=service, token=token, compress=compress, quiet=quiet, limit=keep,
            show_token=show_token, port=port,
        ).run()  # fmt: skip


NO_CLIENT_FLAGS = {"service": "--as", "token": "--token", "compress": "--compress", "quiet": "--quiet"}
ELSEWHERE_FLAGS = {"url": "--url", "open_": "--open", "follow": "--follow", "web": "--web"}
PROXY_FLAGS = {"upstream": "--proxy", "port": "--port", "faults": "--fault"}  # ProxySettings' names → this command's flags


def _over_proxy(
    ctx: typer.Context, proto: Definition, upstream: str, port: int, faults: list[str], *, keep: int, show_token: bool,
    log: Path | None,
) -> None:  # fmt: skip
    """``tui --proxy UPSTREAM``: the proxy runs in this process, on --port (the proxy's own default
    unless given); flags of the dashboard's own client, or of another mode, are refused by name."""
    import asyncio

    from gwtool.errors import InvalidSetting, ListenFailed
    from gwtool.proxy.faults import check_rules
    from gwtool.proxy.settings import ProxySettings

    def typed(name: str) -> bool:
        source = ctx.get_parameter_source(name)
        return source is not None and source.name == "COMMANDLINE"

    for name, flag in ELSEWHERE_FLAGS.items():
        if typed(name):
            raise typer.BadParameter(f"{flag} is another mode of the dashboard: drop it, or --proxy", param_hint="--proxy")
    for name, flag in NO_CLIENT_FLAGS.items():
        if typed(name):
            from gwtool.tui.proxy_source import NO_CLIENT

            raise typer.BadParameter(f"does nothing with --proxy ({NO_CLIENT})", param_hint=flag)
    try:
        check_rules(faults, proto)
        settings = ProxySettings(
            upstream=upstream, port=port if typed("port") else DEFAULT_PROXY_PORT, faults=tuple(faults), show_token=show_token
        )
    except InvalidSetting as exc:
        raise typer.BadParameter(exc.problem, param_hint=PROXY_FLAGS.get(exc.name, exc.name)) from None
    from gwtool.tui.app import GwtoolApp
    from gwtool.tui.proxy_source import ProxySource, run_dashboard

    with open_log(log) as log_file:  # its header once the proxy listens (its real URL)
        source = ProxySource(proto, settings, log=log_file)
        try:
            asyncio.run(run_dashboard(GwtoolApp(source, limit=keep), source))
        except ListenFailed as exc:  # before the screen opened: exit 2
            raise ListenFailed(f"--proxy: {exc} (--port picks another, 0 any free one)") from None


@dataclass(frozen=True, slots=True)
class Dashboard:
    """The options a dashboard runs with; ``--web`` hands them to each tab's own ``gwtool tui``."""

    service: str | None
    token: str
    compress: bool
    quiet: bool
    keep: int
    protocol: Path | None
    show_token: bool
    port: int
    recording: Path | None
    follow: bool
    log: Path | None

    def tab_args(self) -> list[str]:
        """A tab's command line (the token is not on it: ``ps`` shows command lines)."""
        args = ["--keep", str(self.keep)]
        for flag, value in (("--as", self.service), ("--protocol", self.protocol), ("--log", self.log)):
            if value is not None:
                args += [flag, str(value)]
        args += [
            flag
            for flag, on in (("--compress", self.compress), ("--show-token", self.show_token), ("--follow", self.follow))
            if on
        ]
        if self.recording is not None:
            args += ["--open", str(self.recording.resolve())]
        return args


def _serve_web(proto: Definition, url: str | None, options: Dashboard, host: str, web_port: int) -> None:
    """``--web``: each tab runs ``gwtool tui`` with the same options (the token through the environment,
    not the command line, which ``ps`` shows); without --url or --open they share one gateway here."""
    import os
    import socket

    from gwtool.errors import GwtoolError
    from gwtool.tui.web import LOOPBACK_WARNING, DashboardServer, is_loopback

    if not 0 <= web_port <= 65535:
        raise typer.BadParameter(f"expected a port 0…65535, got {web_port}", param_hint="--web-port")
    try:  # say so now, not as an aiohttp traceback once the server starts
        with socket.create_server((host, web_port)):
            pass
    except OSError as exc:
        error = GwtoolError(f"--web: cannot serve on {host}:{web_port}: {exc.strerror or exc}")
        error.exit_code = 2
        raise error from None
    if options.token:
        os.environ["GWTOOL_TOKEN"] = options.token  # the tabs' processes inherit it
    if not is_loopback(host):
        typer.echo(LOOPBACK_WARNING.format(host=host, service=options.service or proto.first_receiver()), err=True)
    shared = url is None and options.recording is None
    server = DashboardServer(
        proto, options.tab_args(), host=host, port=web_port, url=url, gateway_port=options.port, quiet=options.quiet, embed=shared
    )
    server.serve()
