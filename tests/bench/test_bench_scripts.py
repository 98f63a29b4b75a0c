"""Each benchmark script's quick mode runs and prints its figures and ratio lines (no timings asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run_script(name: str, *args: str, timeout: float = 90) -> str:
    proc = subprocess.run([sys.executable, str(BENCHMARKS / name), *args], capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout


def test_relay_quick_mode_loses_nothing_and_prints_ratios_last() -> None:
    out = run_script("bench_relay.py", "--quick", "--seconds", "0.3", "--senders", "2", "--receivers", "2", "--rate", "300")
    lines = out.strip().splitlines()
    runs = [line.split()[:2] for line in lines if " msg/s  sent " in line]
    assert runs == [["saturation", "raw"], ["saturation", "mock"], ["300/s", "raw"], ["300/s", "mock"]]
    assert "ZERO LOSS (every event delivered once, no server closes): PASS" in out
    assert lines[-2].startswith("RATIO throughput mock/raw = ")
    assert lines[-1].startswith("RATIO p99 at 300/s mock/raw = ")


def test_scale_quick_mode_closes_nothing() -> None:
    out = run_script("bench_scale.py", "--connections", "20", "--seconds", "1.2", "--interval-ms", "200", "--rounds", "1")
    lines = out.strip().splitlines()
    assert "NO CLOSES (so no false HEARTBEAT_TIMEOUT), EVERY BEAT ACKED (mock): PASS" in out
    assert "(0 HEARTBEAT_TIMEOUT)" in lines[3]
    assert lines[-1].startswith("RATIO ack p99 mock/raw = ")


def test_startup_prints_both_ratios() -> None:
    out = run_script("bench_startup.py", "--rounds", "1")
    lines = out.strip().splitlines()
    assert lines[-2].startswith("RATIO gwtool --help / typer app --help = ")
    assert lines[-1].startswith("RATIO gwtool send --help / typer app send --help = ")
    assert "heavy modules imported by `import gwtool.cli`: none" in out


def test_liveview_quick_mode_counts_every_payload() -> None:
    out = run_script(
        "bench_liveview.py", "--rates", "300", "--seconds", "1", "--idle-seconds", "0.2",
        "--payloads", "3000", "--memory-rate", "1500", timeout=120,
    )  # fmt: skip
    lines = out.strip().splitlines()
    steps = [line.split()[0] for line in lines if "/s  sent " in line]
    assert steps == ["no", "dashboard"]
    no_ui = next(line for line in lines if line.strip().startswith("no UI"))
    sent, counted = (int(no_ui.split(word)[1].split()[0]) for word in (" sent ", " counted "))
    assert sent == counted > 0
    assert any(line.startswith("ALL ") and line.endswith("RECEIVED BY THE DASHBOARD: PASS") for line in lines)
    assert lines[-1].startswith("RATIO dashboard/no-UI sustained rate = ")


def test_console_cost_runs_every_layer_without_loss_and_prints_ratios_last() -> None:
    out = run_script("bench_console_cost.py", "--rounds", "1", "--seconds", "0.3", timeout=120)
    lines = out.strip().splitlines()
    kinds = ["raw", "none", "records", "quiet", "pipe", "gwtool-pipe", "gwtool-tty"]
    runs = [line.split() for line in lines if " msg/s  lost " in line]
    assert [run[0] for run in runs] == kinds and all(run[run.index("lost") + 1] == "0" for run in runs)
    assert [line.split()[1] for line in lines[-len(kinds) :]] == kinds and lines[-1].startswith("RATIO ")


def test_startup_baseline_is_a_typer_app_of_gwtool_s_shape(tmp_path) -> None:
    """The baseline has gwtool's commands, each with as many options and arguments, of the same names."""
    import importlib.util

    from typer.main import get_command

    from gwtool.cli import app

    spec = importlib.util.spec_from_file_location("bench_startup", BENCHMARKS / "bench_startup.py")
    assert spec is not None and spec.loader is not None
    bench_startup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_startup)
    namespace: dict[str, object] = {}
    exec(compile(bench_startup.baseline_source(), "typer_app.py", "exec"), namespace)

    def shape(group):
        out = {"": sorted(p.name for p in group.params)}
        for name, command in group.commands.items():
            out[name] = shape(command) if hasattr(command, "commands") else sorted(p.name for p in command.params)
        return out

    assert shape(get_command(namespace["app"])) == shape(get_command(app))


def test_proxy_quick_mode_loses_nothing_and_prints_ratios_last() -> None:
    out = run_script(
        "bench_proxy.py", "--quick", "--seconds", "0.5", "--senders", "2", "--receivers", "2", "--rate", "300", timeout=180
    )
    lines = out.strip().splitlines()
    runs = [line.split()[:2] for line in lines if " msg/s  lost " in line]
    kinds = ["bare", "gwtool-pipe", "bare", "gwtool-tty"]
    assert runs == [["saturation", k] for k in kinds] + [["300/s", k] for k in kinds]
    assert "ZERO LOSS (every event delivered once, no closes): PASS" in out
    assert [line.split(" = ")[0] for line in lines[-4:]] == [
        "RATIO stdout pipe gwtool proxy throughput / bare proxy",
        "RATIO stdout pipe gwtool proxy end-to-end p99 at 300/s / bare proxy",
        "RATIO stdout tty  gwtool proxy throughput / bare proxy",
        "RATIO stdout tty  gwtool proxy end-to-end p99 at 300/s / bare proxy",
    ]
