"""What a heartbeat reports as ``heapUsed``: this process's resident set size (RSS), in bytes.

RSS is the memory the process really holds in RAM (Python heap, C extensions, stacks). On Linux it
is read from /proc/self/statm (current value, ~5 µs); elsewhere ``resource.getrusage`` gives the
peak RSS, the closest portable measure.
"""

from __future__ import annotations

import os
import sys

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_memory() -> int:
    """Bytes of RAM this process uses now (peak where /proc is missing); 0 if unknown."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (ImportError, OSError):
        return 0
    return peak if sys.platform == "darwin" else peak * 1024  # macOS reports bytes, Linux KiB
