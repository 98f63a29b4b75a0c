"""``gwtool check gateway`` and ``gwtool check service``: a conformance verdict, not a stream."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeVar

import typer

from gwtool.cli.app import Typer, app
from gwtool.cli.help import GwtoolCommand, GwtoolGroup
from gwtool.cli.options import DEFAULT_URL, ProtocolOption, load
from gwtool.errors import GwtoolError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from rich.console import Console

    from gwtool.check.cases import Case, Report, Result

C = TypeVar("C")  # a suite's context, handed to each of its cases

check_app = Typer(
    name="check",
    cls=GwtoolGroup,
    help="Conformance suites: does a gateway speak the protocol, does a service behave? (docs/check.md)",
    no_args_is_help=True,
)
app.add_typer(check_app)

OnlyOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--only", metavar="PATTERN", help="Run only the cases matching (a glob, or an id prefix: identify). Repeatable."
    ),
]
SkipOption = Annotated[
    Optional[list[str]], typer.Option("--skip", metavar="PATTERN", help="Leave out the cases matching. Repeatable.")
]
JsonReportOption = Annotated[
    bool, typer.Option("--json", metavar="", help='Print one JSON document: {"cases": […], "passed", "failed", "skipped"}.')
]
JunitOption = Annotated[
    Optional[Path], typer.Option("--junit", metavar="FILE", dir_okay=False, help="Also write JUnit XML to FILE (for CI).")
]
ListOption = Annotated[bool, typer.Option("--list", metavar="", help="List the cases (id and title) and exit.")]
FuzzOption = Annotated[
    Optional[int],
    typer.Option(
        "--fuzz",
        min=1,
        metavar="N",
        help="Add cases generated from the definition: about N payloads in all, valid ones and mutants (fuzz.*).",
        show_default=False,
    ),
]
SeedOption = Annotated[
    Optional[int],
    typer.Option(
        "--seed", metavar="S", help="With --fuzz: the seed (the same seed draws the same payloads).", show_default=False
    ),
]


@check_app.command("gateway", cls=GwtoolCommand)
def check_gateway(
    ctx: typer.Context,
    url_argument: Annotated[
        Optional[str],
        typer.Argument(metavar="URL", help=f"The gateway's websocket URL (default {DEFAULT_URL}).", show_default=False),
    ] = None,
    url_option: Annotated[
        Optional[str],
        typer.Option(
            "--url",
            metavar="URL",
            envvar="GWTOOL_URL",
            show_envvar=True,
            help="The gateway's websocket URL, as the other commands take it.",
        ),
    ] = None,
    token: Annotated[
        Optional[str],
        typer.Option("--token", metavar="TOKEN", envvar="GWTOOL_TOKEN", help="The gateway's token (else: any is sent)."),
    ] = None,
    slow: Annotated[bool, typer.Option("--slow", metavar="", help="Also wait out heartbeat timeouts over 10 s.")] = False,
    max_size: Annotated[
        int, typer.Option("--max-size", min=1, metavar="BYTES", help="The gateway's payload size limit, for limits.size.")
    ] = 1 << 20,
    only: OnlyOption = None,
    skip: SkipOption = None,
    protocol: ProtocolOption = None,
    json: JsonReportOption = False,
    junit: JunitOption = None,
    list_cases: ListOption = False,
    fuzz: FuzzOption = None,
    seed: SeedOption = None,
) -> None:
    """Check that a running gateway speaks the protocol: 60-odd cases, each on connections of its own.

    Run it against a gateway nothing else is connected to: routing cases skip when other services are. --fuzz N adds generated cases (fuzz.<kind>.<fault>): a failure is shrunk to the smallest payload that shows it, with its seed and a command line that sends it again.
    """
    from gwtool.check.gateway_suite import GatewayContext, gateway_cases, prepare

    url = _gateway_url(ctx, url_argument, url_option)
    proto = load(protocol)
    generated = _fuzz(fuzz, seed)
    all_cases = gateway_cases(proto)
    if generated is not None:
        from gwtool.check.fuzz_gateway import GatewayFuzz

        plan = GatewayFuzz(proto, *generated)
        all_cases += plan.cases()
    cases = _selected(all_cases, only, skip, list_cases)
    context = GatewayContext(proto, url, token=token, slow=slow, max_size=max_size)
    examples = None
    if generated is not None:
        plan.select({c.id for c in cases})
        examples = (plan.examples, plan) if plan.examples and any(c.id.startswith("fuzz.") for c in cases) else None
    _run("gateway", url, cases, context, prepare, json, junit, examples)


def _fuzz(fuzz: int | None, seed: int | None) -> tuple[int, int] | None:
    """(budget, seed) for --fuzz and --seed; a seed of its own when none is given (the report shows it)."""
    if fuzz is None:
        if seed is not None:
            raise typer.BadParameter("needs --fuzz N (the seed draws the generated cases)", param_hint="--seed")
        return None
    if seed is None:
        import random

        seed = random.randrange(1 << 32)
    _hypothesis_cache()
    return fuzz, seed


def _hypothesis_cache() -> None:
    """Hypothesis keeps caches (a unicode table, constants read from source) in ./.hypothesis
    unless told otherwise: a command must not leave a directory wherever it is run, so they go to
    the user's cache directory (HYPOTHESIS_STORAGE_DIRECTORY, when set, wins)."""
    import os
    from pathlib import Path

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gwtool" / "hypothesis"
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(cache))


def _gateway_url(ctx: typer.Context, argument: str | None, option: str | None) -> str:
    """URL or --url, typed once; GWTOOL_URL only when neither is typed (it is a default, not a flag)."""
    source = ctx.get_parameter_source("url_option")
    typed_option = None if source is not None and source.name == "ENVIRONMENT" else option
    if argument is not None and typed_option is not None and argument != typed_option:
        raise GwtoolError(f"two gateway URLs given, {argument} and --url {typed_option}: give one")
    return argument or option or DEFAULT_URL


@check_app.command("service", cls=GwtoolCommand, context_settings={"allow_interspersed_args": False})
def check_service(
    command: Annotated[
        Optional[list[str]],
        typer.Argument(
            metavar="-- COMMAND [ARGS…]",
            help="The service to run, fresh for each scenario. {url} and {token} in ARGS are replaced;"
            " GWTOOL_URL and GWTOOL_TOKEN are in its environment.",
            show_default=False,
        ),
    ] = None,
    service: Annotated[
        Optional[str], typer.Option("--as", metavar="SERVICE", help="The type it must identify as.", show_default=False)
    ] = None,
    token: Annotated[
        str, typer.Option("--token", metavar="TOKEN", help="The token the check's gateway requires (and gives it).")
    ] = "gwtool-check-token",
    heartbeat_interval: Annotated[
        int,
        typer.Option(
            "--heartbeat-interval", min=50, metavar="MS", help="heartbeatInterval in HELLO (short: the suite takes ~1 min)."
        ),
    ] = 1000,
    only: OnlyOption = None,
    skip: SkipOption = None,
    protocol: ProtocolOption = None,
    json: JsonReportOption = False,
    junit: JunitOption = None,
    list_cases: ListOption = False,
    fuzz: FuzzOption = None,
    seed: SeedOption = None,
) -> None:
    """Check that a service behaves: heartbeats, reconnects, backoff, and what it must never do.

    Each scenario runs the command afresh against a strict gateway that gwtool steers (it closes, drops, stops ACKing, asks for a heartbeat) and grades what the service does. --fuzz N adds a scenario that delivers about N generated events of every shape its type may receive (fuzz.*).
    """
    from gwtool.check.service_suite import ServiceContext, check_command, service_cases

    proto = load(protocol)
    all_cases = service_cases(proto)
    if (generated := _fuzz(fuzz, seed)) is not None:
        from gwtool.check.fuzz_service import service_fuzz_cases

        all_cases += service_fuzz_cases(proto, *generated)
    cases = _selected(all_cases, only, skip, list_cases)
    if service is None:
        raise typer.BadParameter(f"the service's type is needed (one of {', '.join(proto.services)})", param_hint="--as")
    if service not in proto.services:
        raise typer.BadParameter(proto.unknown_service_text(service), param_hint="--as")
    check_command(command or [])
    ctx = ServiceContext(proto, service, list(command or []), token=token, interval_ms=heartbeat_interval)
    _run("service", " ".join(command or []), cases, ctx, None, json, junit)


def _selected(cases: list[Case[C]], only: list[str] | None, skip: list[str] | None, list_cases: bool) -> list[Case[C]]:
    from gwtool.check.cases import select

    chosen = select(cases, only, skip)
    if list_cases:
        for case in chosen:
            typer.echo(f"{case.id}  {case.title}")
        raise typer.Exit()
    if not chosen:
        raise typer.BadParameter("no case matches (--list shows them)", param_hint="--only/--skip")
    return chosen


def _run(
    suite: str,
    target: str,
    cases: list[Case[C]],
    ctx: C,
    prepare: Callable[[C], Awaitable[None]] | None,
    json: bool,
    junit: Path | None,
    examples: tuple[int, Any] | None = None,
) -> None:
    """Run the suite; ``examples`` is (how many, the generator with an ``on_example`` hook) when
    generated cases run, for a second progress bar."""
    import asyncio

    from rich.console import Console

    from gwtool.check.cases import run_suite

    err = Console(stderr=True, highlight=False)
    progress = _Progress(err, len(cases)) if err.is_terminal and not json else None
    if progress is not None and examples is not None:
        examples[1].on_example = progress.add_examples(examples[0])

    async def main() -> Report:
        if prepare is not None:
            await prepare(ctx)
        return await run_suite(suite, target, cases, ctx, on_result=progress.advance if progress else None)

    try:
        if progress is not None:
            with progress.live:
                report = asyncio.run(main())
        else:
            report = asyncio.run(main())
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if junit is not None:
        try:
            junit.write_bytes(report.junit_xml())
        except OSError as exc:
            err.print(f"--junit: cannot write {junit}: {exc.strerror or exc}", markup=False)
    if json:
        import orjson

        typer.echo(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode())
    else:
        _print_report(Console(highlight=False), report)
    raise typer.Exit(report.exit_code)


STATUS_STYLES = {"pass": "green", "fail": "bold red", "skip": "yellow"}


class _Progress:
    """A progress bar on stderr while the suite runs (a terminal only)."""

    def __init__(self, console: Console, total: int) -> None:
        from rich.live import Live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        )
        self.task = self.bar.add_task("checking", total=total)
        self.live = Live(self.bar, console=console, transient=True, refresh_per_second=8)
        self.failed = 0

    def add_examples(self, total: int) -> Callable[[], None]:
        """A bar for generated payloads (judged, shrinking runs included: it may pass its total)."""
        task = self.bar.add_task("generated payloads", total=total)
        return lambda: self.bar.update(task, advance=1)

    def advance(self, result: Result) -> None:
        from gwtool.text import printable

        self.failed += result.status == "fail"
        described = f"{printable(result.id)} ({self.failed} failed)" if self.failed else printable(result.id)
        self.bar.update(self.task, advance=1, description=described)


def _print_report(console: Console, report: Report) -> None:
    if not console.is_terminal:
        _print_lines(report)
        return
    from rich.table import Table
    from rich.text import Text

    from gwtool.text import printable

    table = Table(title=f"gwtool check {report.suite}: {printable(report.target)}", title_justify="left", expand=True)
    longest = max((len(r.id) for r in report.results), default=4)
    table.add_column("case", overflow="fold", max_width=min(longest, max(16, console.width // 3)))
    table.add_column("", no_wrap=True, width=4)
    table.add_column("got (expected, when it failed)", ratio=1, overflow="fold")
    table.add_column("ms", justify="right", no_wrap=True, width=6)
    for r in report.results:
        got = Text(printable(r.got))  # the peer's words: text, never markup
        if r.status == "fail":
            got.append(f"\nexpected: {r.expected}", "dim")
        table.add_row(Text(r.id), Text(r.status, STATUS_STYLES[r.status]), got, Text(f"{r.ms:.0f}"))
    console.print(table)
    style = "bold red" if report.count("fail") else "bold green"
    console.print(Text(report.verdict, style))


def _print_lines(report: Report) -> None:
    """The report for a pipe: one line per case, never wrapped (``| grep fail`` gets whole cases)."""
    from gwtool.text import printable

    typer.echo(f"gwtool check {report.suite}: {printable(report.target)}")
    width = max((len(printable(r.id)) for r in report.results), default=4)
    for r in report.results:
        expected = f" (expected: {printable(r.expected)})" if r.status == "fail" else ""
        typer.echo(f"{printable(r.id):<{width}}  {r.status:<4}  {r.ms:6.0f} ms  {printable(r.got)}{expected}")
    typer.echo(report.verdict)
