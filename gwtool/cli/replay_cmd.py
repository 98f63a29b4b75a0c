"""``gwtool replay FILE``: send a recording's service → gateway payloads again, with their spacing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from gwtool.cli.app import app
from gwtool.cli.help import GwtoolCommand
from gwtool.cli.options import (
    DEFAULT_URL,
    ConsoleSettings,
    JsonOption,
    LogOption,
    ProtocolOption,
    ServiceOption,
    TokenOption,
    UrlOption,
    check_url_option,
    known_service,
    load,
    settings_flags,
    typed,
)
from gwtool.cli.running import open_log, run_async, stop_signals
from gwtool.errors import GwtoolError
from gwtool.text import plural

if TYPE_CHECKING:
    from gwtool.client import GatewayClient
    from gwtool.client.sending import ReplaySettings
    from gwtool.logfile import Plan
    from gwtool.protocol.definition import Definition

SHOWN_ERRORS = 5  # invalid payloads listed before "… and N more"


@app.command("replay", cls=GwtoolCommand)
def replay(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A recording (--log of any command).", dir_okay=False)],
    url: UrlOption = DEFAULT_URL,
    service: ServiceOption = None,
    token: TokenOption = "",
    speed: Annotated[
        float, typer.Option("--speed", min=0.001, metavar="X", help="Replay X times as fast as recorded (0.5 = half speed).")
    ] = 1.0,
    asap: Annotated[bool, typer.Option("--asap", metavar="", help="As fast as the gateway takes them (no spacing).")] = False,
    conn: Annotated[
        Optional[int], typer.Option("--conn", metavar="N", help="Replay connection N only (its conn in the recording).")
    ] = None,
    only: Annotated[
        Optional[list[str]], typer.Option("--only", metavar="NAME", help="Only these events (t) or cache types. Repeatable.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", metavar="", help="List what would be sent; connect to nothing.")] = False,
    no_validate: Annotated[
        bool, typer.Option("--no-validate", metavar="", help="Send invalid or refused payloads too (to reproduce a bug).")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.001, metavar="SECONDS", help="For HELLO, IDENTIFIED and the final ACK.")
    ] = 10.0,
    protocol: ProtocolOption = None,
    json: JsonOption = False,
    log: LogOption = None,
) -> None:
    """Identify as the recorded service type (or --as) and send the recording's EVENT and CACHE payloads again.

    They go with their recorded spacing (scaled by --speed; --asap: none), each checked against the definition first. From a mock-gateway --log recording, one connection is replayed: --conn, or the first of the --as type (or of any) that sent a payload --only keeps. Prints a progress bar, then what was sent; a refusal ends it with the close code, name and reason (exit 3).
    """
    from gwtool.client import GatewayClient
    from gwtool.client.sending import ReplaySettings
    from gwtool.logfile import client_header, protocol_digest, replay_plan

    if asap and typed(ctx, "speed"):
        raise typer.BadParameter(
            "cannot go with --speed: --asap sends with no spacing, --speed scales the recorded spacing; give one",
            param_hint="--asap",
        )
    with settings_flags():
        settings = ReplaySettings(speed=None if asap else speed, timeout=timeout)
    proto = load(protocol)
    plan = replay_plan(file, proto, conn=conn, service=service, only=only)
    if not plan.items:
        raise GwtoolError(_nothing_to_replay(file, plan, conn, service, only))
    if plan.service is None:
        raise GwtoolError(f"{file}: the recording does not say which service type sent them: give --as SERVICE")
    sender = known_service(proto, plan.service)
    _check_payloads(proto, plan, sender, file, no_validate)
    if plan.protocol is not None and plan.protocol != protocol_digest(proto):
        typer.echo(f"warning: {file} was recorded with another protocol definition (digest {plan.protocol})", err=True)
    if dry_run:
        _print_plan(proto, plan, file, 1.0 if asap else speed, asap)
        return
    check_url_option(ctx, url)
    with open_log(log, lambda: client_header(proto, "replay", url, sender)) as log_file:
        client = GatewayClient(url, service=sender, token=token, proto=proto, reconnect=False, open_timeout=settings.open_timeout)
        console = ConsoleSettings(json=json, quiet=not json, log=log_file)  # the terminal shows a progress bar instead
        run_async(_replay(client, plan, settings, console), interrupted_status=130)


SHOWN_CONNECTIONS = 20  # connections listed when none matches


def _nothing_to_replay(file: Path, plan: Plan, conn: int | None, service: str | None, only: list[str] | None) -> str:
    """Why nothing matched, and what the recording's connections did send."""
    among = f" among {', '.join(only)}" if only else ""
    if not plan.connections:
        return f"{file}: nothing to replay: no EVENT or CACHE payload a service sent"
    if conn is not None and conn not in plan.connections:
        why = f"no connection {conn} sent an EVENT or CACHE payload"
    elif conn is not None:
        why = f"connection {conn} sent nothing{among}"
    else:
        why = f"no {service} connection sent anything{among}" if service else f"nothing{among}"
    listed = [f"#{number} {sent.service or '?'} ({sent.describe()})" for number, sent in plan.connections.items()]
    more = len(listed) - SHOWN_CONNECTIONS
    shown = ", ".join(listed[:SHOWN_CONNECTIONS]) + (f" … and {more} more" if more > 0 else "")
    return f"{file}: nothing to replay: {why}\n(what its connections sent: {shown})"


def _check_payloads(proto: Definition, plan: Plan, service: str, file: Path, no_validate: bool) -> None:
    """Each payload as the gateway will check it; invalid ones stop the replay unless --no-validate."""
    from gwtool.protocol.validate import permission_error, validate_payload

    problems = []
    for _, payload, line in plan.items:
        errors = validate_payload(proto, payload, service=service)
        if denied := permission_error(proto, payload, service):
            errors.append(denied)
        if errors:
            problems.append(f"{file}:{line}: {'; '.join(errors)}")
    if problems and not no_validate:
        more = f"\n… and {len(problems) - SHOWN_ERRORS} more" if len(problems) > SHOWN_ERRORS else ""
        raise GwtoolError(
            f"{len(problems):,} of {plural(len(plan.items), 'payload')} would be refused:\n" + "\n".join(problems[:SHOWN_ERRORS]) + more
            + "\n(--no-validate sends them anyway, to reproduce the refusal)"
        )  # fmt: skip


def _print_plan(proto: Definition, plan: Plan, file: Path, speed: float, asap: bool) -> None:
    from rich.console import Console
    from rich.text import Text

    from gwtool.console import label, summary
    from gwtool.records import Record

    console = Console(highlight=False)
    for offset, payload, line in plan.items:
        record = Record("out", 0, payload)
        when = "asap" if asap else f"+{offset / speed:8.3f} s"
        console.print(
            Text(f"{when}  line {line:<6} ") + Text(f"{label(record, proto):<24} ", "bold") + Text(summary(record, 100)),
            soft_wrap=True,
        )
    span = plan.items[-1][0] / speed
    console.print(
        Text(
            f"dry run: would send {plural(len(plan.items), 'payload')} as {plan.service} over {0 if asap else span:.2f} s; nothing sent",
            "bold",
        )
    )


async def _replay(client: GatewayClient, plan: Plan, settings: ReplaySettings, console: ConsoleSettings) -> None:
    import asyncio

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from gwtool.client.sending import replay
    from gwtool.records import Record

    sent_op = {client.proto.op("EVENT"), client.proto.op("CACHE")}
    # records go to --json / --log; the terminal shows the progress bar and the outcome
    output = console.output(
        client.proto, hide=lambda item: not (isinstance(item, Record) and item.direction == "out" and item.op in sent_op)
    )
    client.subscribe(output)
    err = Console(stderr=True)
    progress = Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err, transient=True,
                        disable=not err.is_terminal)  # fmt: skip
    stop = asyncio.Event()  # Ctrl-C and SIGTERM: the replay stops and says how far it got
    try:
        with progress, stop_signals(stop):
            bar = progress.add_task("replay", total=len(plan.items))
            done = await replay(client, plan, settings, progress=lambda n: progress.update(bar, completed=n), stop=stop)
        output.message(
            f"replayed {plural(done.count, 'payload')} as {client.service} to {client.url} in {done.seconds:.2f} s (recorded over {done.recorded:.2f} s)",
            "bold",
        )
    finally:
        await output.aclose()
