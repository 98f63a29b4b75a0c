"""Start-up: wall time of `gwtool --help` and `gwtool send --help` against `python -c "import typer"`.

Runs the commands in alternation (A B C A B C …) so drift hits all alike, and prints the medians and
the ratios last. By default every run uses a private bytecode cache (warmed first), as an installed
package has .pyc files; `--as-is` keeps the environment (e.g. PYTHONDONTWRITEBYTECODE=1) instead.

    python benchmarks/bench_startup.py [--rounds 15] [--as-is] [--variants]
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

TARGET = 1.3
HEAVY = ("textual", "websockets")  # must not be imported just to print help


def gwtool_argv() -> list[str]:
    script = Path(sys.executable).with_name("gwtool")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gwtool"]


# What two possible fixes would give (--variants): typer 0.29 coerces the group's unset --help (None)
# through a pydantic TypeAdapter, importing pydantic for every subcommand; and its Rich help
# (typer.rich_utils: rich panels, tables, markdown) costs about as much as `import typer` itself.
SKIP_HELP_COERCION = (
    "import typer.core as tc; coerce = tc._TyperParameter.process_value; "
    "tc._TyperParameter.process_value = lambda p, c, v: coerce(p, c, False if v is None and p.name == 'help' else v); "
)
PLAIN_HELP = "import gwtool.cli as cli; cli.app.rich_markup_mode = None; "


def commands(variants: bool) -> dict[str, list[str]]:
    cmds = {
        "import typer": [sys.executable, "-c", "import typer"],
        "gwtool --help": [*gwtool_argv(), "--help"],
        "gwtool send --help": [*gwtool_argv(), "send", "--help"],
    }
    if variants:
        main = "import gwtool.cli as cli; cli.main(['send', '--help'])"
        cmds["send --help, no pydantic"] = [sys.executable, "-c", SKIP_HELP_COERCION + main]
        cmds["send --help, + plain help"] = [sys.executable, "-c", SKIP_HELP_COERCION + PLAIN_HELP + main]
    return cmds


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
    parser.add_argument("--variants", action="store_true", help="also time two possible fixes (see the source)")
    args = parser.parse_args()

    env = dict(os.environ)
    cache_dir = None
    if not args.as_is:
        cache_dir = tempfile.TemporaryDirectory(prefix="gwtool-pyc-")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache_dir.name
    cmds = commands(args.variants)
    codes = {name: run_once(argv, env)[2] for name, argv in cmds.items()}  # warm-up (fills the cache)
    times: dict[str, list[float]] = {name: [] for name in cmds}
    cpu: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(args.rounds):
        for name, argv in cmds.items():
            wall, used, _ = run_once(argv, env)
            times[name].append(wall)
            cpu[name].append(used)
    heavy = heavy_imports(env)
    if cache_dir:
        cache_dir.cleanup()

    base = statistics.median(times["import typer"])
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load}")
    print(f"start-up, {args.rounds} alternating rounds, {'environment as is' if args.as_is else 'with .pyc'}")
    for name, samples in times.items():
        ms = [t * 1000 for t in samples]
        note = "" if codes[name] == 0 else f"  (exit {codes[name]}: command missing?)"
        used = statistics.median(cpu[name]) * 1000
        print(f"  {name:<26} median {statistics.median(ms):6.1f} ms  min {min(ms):6.1f} ms  CPU {used:6.1f} ms{note}")
    print(f"  heavy modules imported by `import gwtool.cli`: {', '.join(heavy) or 'none'}")
    ok = True
    for name in ("gwtool --help", "gwtool send --help"):
        ratio = statistics.median(times[name]) / base
        passed = ratio <= TARGET and codes[name] == 0
        ok &= passed
        print(f"RATIO {name} / import typer = {ratio:.2f}x (target <= {TARGET}x) {'PASS' if passed else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
