"""Locust, headless and distributed on 127.0.0.1 (a master and two workers), against the mock gateway.

Locust patches the standard library with gevent when imported, so it only ever runs in its own
processes here, from the locustfile ``gwtool locustfile`` prints."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gwtool.gateway import MockGateway
from gwtool.protocol.definition import load_protocol

LOCUST = shutil.which("locust") or str(Path(sys.executable).with_name("locust"))
pytestmark = pytest.mark.skipif(not Path(LOCUST).exists(), reason="Locust is not installed: pip install -e '.[test]' brings it")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_locust_distributed_delivers_execute_command_with_no_failures(tmp_path):
    locustfile = tmp_path / "locustfile.py"
    made = subprocess.run(
        [sys.executable, "-m", "gwtool", "locustfile", "--rate", "20"], capture_output=True, text=True, check=True
    )
    locustfile.write_text(made.stdout)
    port = str(free_port())
    async with MockGateway(load_protocol(use_env=False), heartbeat_interval=1000) as gw:
        workers = [
            await asyncio.create_subprocess_exec(
                LOCUST,
                "-f",
                str(locustfile),
                "--worker",
                "--master-host",
                "127.0.0.1",
                "--master-port",
                port,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                cwd=tmp_path,
            )  # fmt: skip
            for _ in range(2)
        ]
        master = await asyncio.create_subprocess_exec(
            LOCUST, "-f", str(locustfile), "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
            "--expect-workers", "2", "--host", gw.url, "--headless", "-u", "4", "-r", "4", "-t", "6s",
            "--csv", str(tmp_path / "run"), "--only-summary",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
        )  # fmt: skip
        try:
            async with asyncio.timeout(90):
                output, _ = await master.communicate()
                for worker in workers:
                    await worker.wait()
        finally:
            for process in (master, *workers):
                if process.returncode is None:
                    process.kill()
    text = output.decode(errors="replace")
    assert master.returncode == 0, text
    rows = {(row["Type"], row["Name"]): row for row in csv.DictReader((tmp_path / "run_stats.csv").open())}
    delivered = rows[("EVENT", "EXECUTE_COMMAND")]
    assert int(delivered["Request Count"]) > 50, text
    assert int(delivered["Failure Count"]) == 0
    assert int(rows[("HEARTBEAT", "HEARTBEAT")]["Request Count"]) > 0
    assert not any(kind == "CLOSE" for kind, _ in rows), rows.keys()
    report = re.search(r"gwtool: (\d+) events sent, (\d+) received, (\d+) lost", text)
    assert report is not None, text  # the master adds up its workers' counts
    sent, received, lost = map(int, report.groups())
    assert received == int(delivered["Request Count"]) and lost == max(0, sent - received)
    assert lost <= sent * 0.05  # only those in flight when the run stopped


def test_a_sender_whose_event_data_is_not_an_object_says_so_before_connecting(tmp_path):
    """Each event spreads its data and adds the send time to it, so only a JSON object will do."""
    from gwtool.bench import Roles

    t = Roles(load_protocol(use_env=False)).event.t
    definition = tmp_path / "mine.toml"
    definition.write_text(f"[events.{t}]\nexample = '[1, 2]'\n")
    script = (
        "from locust.env import Environment\n"
        "from gwtool.locust import SharderUser\n"
        "try:\n"
        "    SharderUser(Environment()).on_start()\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    env = {**os.environ, "GWTOOL_PROTOCOL": str(definition)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.strip() == f"GatewayError {t}: its data is not a JSON object, and each event adds a field to it", (
        done.stdout + done.stderr
    )


def test_the_run_s_totals_are_left_in_gwtool_locust_totals():
    script = (
        "from locust import events\n"
        "from locust.env import Environment\n"
        "from gwtool import locust\n"
        "locust.COUNTS.update(sent=5, received=3)\n"
        "events.quitting.fire(environment=Environment(events=events))\n"
        "print(sorted(locust.TOTALS.items()))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[('lost', 2), ('received', 3), ('sent', 5)]", done.stdout + done.stderr
