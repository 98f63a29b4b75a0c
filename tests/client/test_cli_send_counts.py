"""A run of sends cut short says how far it got: refused, rate-limited, interrupted or lost."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

from test_cli_client_commands import gwtool

from gwtool.gateway import MockGateway
from gwtool.records import Record

COUNTS = re.compile(r"\((\d+) of (\d+) EXECUTE_COMMAND written, (\d+) confirmed by a heartbeat ACK")


async def test_a_burst_refused_after_the_last_write_still_says_how_many_went(capsys, proto):
    async with MockGateway(proto, heartbeat_interval=60_000) as gw:
        code, out, err = await gwtool(
            capsys, "send", "EXECUTE_COMMAND", "--url", gw.url, "--no-validate", "--set", "ids.shard=x", "--repeat", "3"
        )
    err = " ".join(err.split())
    assert code == 3, err
    assert "4010 INVALID_PAYLOAD — d.ids.shard: expected integer, got string" in err
    match = COUNTS.search(err)
    assert match, err
    written, total, confirmed = map(int, match.groups())
    assert 1 <= written <= 3 and total == 3 and confirmed == 0


async def test_a_rate_limited_burst_says_how_many_went(capsys, proto):
    async with MockGateway(proto, heartbeat_interval=60_000, rate_limit=(5, 1.0)) as gw:
        code, out, err = await gwtool(capsys, "send", "EXECUTE_COMMAND", "--url", gw.url, "--repeat", "10")
    err = " ".join(err.split())
    assert code == 3 and "RATE_LIMITED" in err, err
    match = COUNTS.search(err)
    assert match and match.group(2) == "10", err


async def test_ctrl_c_during_a_paced_run_says_how_many_went_and_exits_130(proto):
    async with MockGateway(proto, heartbeat_interval=60_000) as gw:
        arrived = asyncio.Event()
        events = 0

        def count(item: object) -> None:
            nonlocal events
            if isinstance(item, Record) and item.direction == "in" and item.t == "EXECUTE_COMMAND":
                events += 1
                if events == 2:
                    arrived.set()

        gw.subscribe(count)
        send = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gwtool", "send", "EXECUTE_COMMAND", "--url", gw.url, "--repeat", "100", "--rate", "5", "-q",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            async with asyncio.timeout(20):
                await arrived.wait()
                send.send_signal(signal.SIGINT)
                out, err = await send.communicate()
        finally:
            if send.returncode is None:
                send.kill()
                await send.wait()
    text = " ".join(err.decode().split())
    assert send.returncode == 130, text
    match = re.search(
        r"interrupted: (\d+) of 100 EXECUTE_COMMAND written, (\d+) confirmed by a heartbeat ACK; the rest were not sent", text
    )
    assert match, text
    written, confirmed = map(int, match.groups())
    assert 2 <= written < 100 and confirmed == written == events  # the last round trip confirmed them all
