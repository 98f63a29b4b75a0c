"""tests/check/sample_service.py behind a gwtool proxy with fault rules: the service under
``gwtool check service`` talks to the check's gateway through the proxy.

    python proxied_service.py --fault 'drop op:HEARTBEAT_ACK' -- --as commands
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

SAMPLE = str(Path(__file__).resolve().parents[1] / "check" / "sample_service.py")


async def main() -> None:
    from gwtool.proxy import Proxy

    parser = argparse.ArgumentParser()
    parser.add_argument("--fault", action="append", default=[])
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    async with Proxy(upstream=os.environ["GWTOOL_URL"], faults=tuple(args.fault)) as proxy:
        env = {**os.environ, "GWTOOL_URL": proxy.url}
        service = await asyncio.create_subprocess_exec(sys.executable, SAMPLE, *[a for a in args.rest if a != "--"], env=env)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, service.terminate)
        await service.wait()


if __name__ == "__main__":
    asyncio.run(main())
