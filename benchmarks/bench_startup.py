"""Start-up: wall time of `gwtool --help` and `gwtool send --help` against `python -c "import typer"`.

Runs the commands in alternation (A B C A B C …) so drift hits all alike, and prints the medians and
the ratios last. By default every run uses a private bytecode cache (warmed first), as an installed
package has .pyc files; `--as-is` keeps the environment (e.g. PYTHONDONTWRITEBYTECODE=1) instead.

    python benchmarks/bench_startup.py [--rounds 15] [--as-is]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.3
HEAVY = ("textual", "websockets")  # must not be imported just to print help


def gwtool_argv() -> list[str]:
    script = Path(sys.executable).with_name("gwtool")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gwtool"]


def commands() -> dict[str, list[str]]:
    return {
        "import typer": [sys.executable, "-c", "import typer"],
        "gwtool --help": [*gwtool_argv(), "--help"],
        "gwtool send --help": [*gwtool_argv(), "send", "--help"],
    }


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    return time.perf_counter() - start, proc.returncode


def heavy_imports(env: dict[str, str]) -> list[str]:
    """Heavy top-level packages that importing the CLI (with every command module) pulls in."""
    code = (
        "import sys, gwtool.cli\n"
        f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    return out.stdout.split()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--as-is", action="store_true", help="keep the environment's bytecode settings")
    args = parser.parse_args()

    env = dict(os.environ)
    cache_dir = None
    if not args.as_is:
        cache_dir = tempfile.TemporaryDirectory(prefix="gwtool-pyc-")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache_dir.name
    cmds = commands()
    codes = {name: run_once(argv, env)[1] for name, argv in cmds.items()}  # warm-up (fills the cache)
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(args.rounds):
        for name, argv in cmds.items():
            times[name].append(run_once(argv, env)[0])
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
        print(f"  {name:<20} median {statistics.median(ms):7.1f} ms  min {min(ms):7.1f} ms{note}")
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
