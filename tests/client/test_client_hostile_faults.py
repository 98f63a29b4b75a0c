"""Faults in the middle of a run are said, with counts: a gateway killed during `send --repeat`."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys

from test_cli_client_commands import gwtool

from gwtool.client import GatewayClient
from gwtool.errors import ConnectFailed


async def test_a_gateway_killed_mid_repeat_reports_written_and_confirmed_counts(capsys, proto):
    gateway = subprocess.Popen(
        [sys.executable, "-m", "gwtool", "mock-gateway", "--port", "0", "--heartbeat-interval", "100", "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = None
        for _ in range(20):
            if match := re.search(r"ws://127\.0\.0\.1:\d+", await asyncio.to_thread(gateway.stderr.readline)):
                url = match.group(0)
                break
        assert url, "the gateway did not start"
        got = 0
        killed = asyncio.Event()

        def count(item) -> None:
            nonlocal got
            if getattr(item, "t", None) == "EXECUTE_COMMAND":
                got += 1
                if got == 100 and not killed.is_set():
                    gateway.kill()  # no close frame: the connection is simply lost
                    killed.set()

        with contextlib.suppress(ConnectFailed):  # the worker's connection is lost too, of course
            async with GatewayClient(url, service="commands", proto=proto, reconnect=False) as worker:
                await worker.wait_identified(timeout=10)
                worker.subscribe(count)
                code, out, err = await gwtool(capsys, "send", "EXECUTE_COMMAND", "--url", url, "--repeat", "600", "--rate", "200")
    finally:
        gateway.kill()
        gateway.wait()
    err = " ".join(err.split())
    assert code == 4, err
    match = re.search(r"connection lost midway.*\((\d+) of 600 EXECUTE_COMMAND written, (\d+) confirmed by a heartbeat ACK", err)
    assert match, err
    written, confirmed = map(int, match.groups())
    assert 100 <= written < 600 and 0 < confirmed <= written
    assert "Traceback" not in err
    assert err.count("connection lost") == 1 and "1006 ABNORMAL" in err, err  # said once, with the code
