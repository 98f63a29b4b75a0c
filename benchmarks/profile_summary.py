"""Summarise py-spy's collapsed stacks (``--format raw``): where the samples are, self and total.

python benchmarks/profile_summary.py prof-sat.txt [--top 25] [--match gwtool] [--buckets]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def short(frame: str) -> str:
    m = FRAME.match(frame)
    if not m:
        return frame
    path = m["file"]
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{m['func']} ({path})"


# --buckets: each sample goes to the first bucket whose marker is in its stack (order matters)
BUCKETS = (
    ("render (textual compositor)", ("_compositor_refresh", "_refresh_layout")),
    ("feed → stream (flush)", ("GwtoolApp.flush",)),
    ("gateway (MockGateway)", ("MockGateway.",)),
    ("client (GatewayClient)", ("GatewayClient.",)),
    ("other textual (messages, timers, widgets)", ("textual/",)),
    ("asyncio / sockets outside those", ("asyncio/", "selectors.py")),
)


def bucket(stack: str) -> str:
    for name, markers in BUCKETS:
        if any(marker in stack for marker in markers):
            return name
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default="", help="only frames whose text contains this, for the total table")
    parser.add_argument("--buckets", action="store_true", help="only the share of samples per area of the dashboard")
    args = parser.parse_args()
    if args.buckets:
        shares: Counter[str] = Counter()
        for line in open(args.path, encoding="utf-8"):
            stack, _, count = line.rstrip().rpartition(" ")
            if count.isdigit() and "_do_waitpid" not in stack:  # asyncio's child-watcher thread, idle
                shares[bucket(stack)] += int(count)
        total = sum(shares.values()) or 1
        for name, n in shares.most_common():
            print(f"  {n * 100 / total:5.1f}%  {name}")
        return
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in open(args.path, encoding="utf-8"):
        stack, _, count = line.rstrip().rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [short(f) for f in stack.split(";") if f]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if frames:
            own[frames[-1]] += n
        for f in set(frames):
            total[f] += n
    print(f"{samples} samples")
    print("self time")
    for frame, n in own.most_common(args.top):
        print(f"  {n * 100 / samples:5.1f}%  {frame}")
    print("total time" + (f" (frames matching {args.match!r})" if args.match else ""))
    shown = [(f, n) for f, n in total.most_common() if args.match in f][: args.top]
    for frame, n in shown:
        print(f"  {n * 100 / samples:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
