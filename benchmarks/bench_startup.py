"""Start-up: the installed `gwtool --help` and `gwtool send --help` against a minimal Typer app of the same shape.

The baseline is what a user would compare gwtool with: a Typer app written plainly, with gwtool's
commands and, for each, the same options and arguments (names, kinds, defaults, help texts),
Typer's defaults for everything else (no examples, no lists of the definition's names). It is
generated from gwtool's own command tree, so it keeps the same shape as commands change.

Every command runs as a subprocess, in alternation (A B C D A B C D …) so drift hits all alike;
the medians and the ratios within this run are printed last. By default every run uses a private
bytecode cache (warmed first), as an installed package has .pyc files; `--as-is` keeps the
environment (e.g. PYTHONDONTWRITEBYTECODE=1) instead. On a loaded machine use more --rounds.

    python benchmarks/bench_startup.py [--rounds 15] [--as-is] [--show-baseline]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

TARGET = 1.1
HEAVY = ("textual", "websockets")  # must not be imported just to print help
PAIRS = (("gwtool --help", "typer app --help"), ("gwtool send --help", "typer app send --help"))


def gwtool_argv() -> list[str]:
    script = Path(sys.executable).with_name("gwtool")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gwtool"]


# --- the baseline: a plain Typer app with gwtool's commands and options ---------------------------------


def _annotation(param: Any) -> tuple[str, Any]:
    """The Python annotation a plain Typer app would declare for ``param``, and its default."""
    default = param.default
    if param.nargs == -1 or param.multiple:
        return "Optional[list[str]]", None
    if isinstance(default, bool) or getattr(param, "is_flag", False):
        return "bool", bool(default)
    for kind in (int, float, str):
        if type(default) is kind:
            return kind.__name__, default
    return ("str" if param.required else "Optional[str]"), None


def _parameter(param: Any) -> str:
    annotation, default = _annotation(param)
    is_argument = type(param).__name__ == "TyperArgument"
    kind = "Argument" if is_argument else "Option"
    decls = "" if is_argument else ", ".join(repr(o) for o in (*param.opts, *param.secondary_opts)) + ", "
    if param.required:
        return f"    {param.name}: Annotated[{annotation}, typer.{kind}({decls}help={param.help!r})],"
    return f"    {param.name}: Annotated[{annotation}, typer.{kind}({decls}help={param.help!r})] = {default!r},"


def _command(app_name: str, name: str, command: Any) -> list[str]:
    params = [p for p in command.params if p.name != "help"]
    ordered = [p for p in params if p.required] + [p for p in params if not p.required]
    function = f"{app_name}_{name}".replace("-", "_")
    return [
        f"@{app_name}.command({name!r})",
        f"def {function}(",
        *(_parameter(p) for p in ordered),
        ") -> None:",
        f"    {(command.help or '')!r}",
        "",
    ]


def baseline_source() -> str:
    """A plain Typer app of gwtool's shape: its commands, groups and every option, Typer's defaults."""
    from typer.main import get_command

    from gwtool.cli import app

    root = get_command(app)
    lines = ["from typing import Annotated, Optional", "", "import typer", "", "app = typer.Typer()", ""]
    version = next(p for p in root.params if p.name == "version")
    lines += ["@app.callback()", "def main(", _parameter(version), ") -> None:", f"    {(root.help or '')!r}", ""]
    for name, command in root.commands.items():
        if hasattr(command, "commands"):  # a group: check gateway, check service
            group = name.replace("-", "_")
            lines += [f"{group} = typer.Typer(help={(command.help or '')!r})", f"app.add_typer({group}, name={name!r})", ""]
            for sub_name, sub in command.commands.items():
                lines += _command(group, sub_name, sub)
        else:
            lines += _command("app", name, command)
    lines += ["if __name__ == '__main__':", "    app()", ""]
    return "\n".join(lines)


# --- timing ------------------------------------------------------------------------------------------


def commands(baseline: Path) -> dict[str, list[str]]:
    plain = [sys.executable, str(baseline)]
    return {
        "gwtool --help": [*gwtool_argv(), "--help"],
        "typer app --help": [*plain, "--help"],
        "gwtool send --help": [*gwtool_argv(), "send", "--help"],
        "typer app send --help": [*plain, "send", "--help"],
        "import typer": [sys.executable, "-c", "import typer"],
    }


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit code). A blocking wait4: subprocess's wait(timeout) polls in
    steps of up to 50 ms, which would quantize the figures; a timer kills a hung command instead."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watchdog = threading.Timer(30, proc.kill)
    watchdog.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    watchdog.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


def heavy_imports(env: dict[str, str]) -> list[str]:
    """Heavy top-level packages that importing the CLI (with every command module) pulls in."""
    code = f"import sys, gwtool.cli\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    return out.stdout.split()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--as-is", action="store_true", help="keep the environment's bytecode settings")
    parser.add_argument("--show-baseline", action="store_true", help="print the baseline app's source and exit")
    args = parser.parse_args()
    if args.show_baseline:
        print(baseline_source())
        return 0

    env = dict(os.environ)
    env.pop("COLUMNS", None)  # both print help at the same width
    with tempfile.TemporaryDirectory(prefix="gwtool-startup-") as tmp:
        baseline = Path(tmp, "typer_app.py")
        baseline.write_text(baseline_source())
        if not args.as_is:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp, "pyc"))
        cmds = commands(baseline)
        codes = {name: run_once(argv, env)[2] for name, argv in cmds.items()}  # warm-up (fills the cache)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        cpu: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.rounds):
            for name, argv in cmds.items():
                wall, used, _ = run_once(argv, env)
                times[name].append(wall)
                cpu[name].append(used)
        heavy = heavy_imports(env)

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load}")
    print(f"start-up, {args.rounds} alternating rounds, {'environment as is' if args.as_is else 'with .pyc'}")
    for name, samples in times.items():
        ms = [t * 1000 for t in samples]
        note = "" if codes[name] == 0 else f"  (exit {codes[name]}: command missing?)"
        used = statistics.median(cpu[name]) * 1000
        print(f"  {name:<24} median {statistics.median(ms):6.1f} ms  min {min(ms):6.1f} ms  CPU {used:6.1f} ms{note}")
    print(f"  heavy modules imported by `import gwtool.cli`: {', '.join(heavy) or 'none'}")
    ok = True
    for name, base in PAIRS:
        ratio = statistics.median(times[name]) / statistics.median(times[base])
        passed = ratio <= TARGET and codes[name] == 0 and codes[base] == 0
        ok &= passed
        print(f"RATIO {name} / {base} = {ratio:.2f}x (target <= {TARGET}x) {'PASS' if passed else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
