"""Bar charts drawn with block characters, as plain strings: ``gwtool stats``' I/O graph and the
dashboard's Stats pane draw theirs with these (each styles them as its output needs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

BLOCKS = " ▁▂▃▄▅▆▇█"  # eighths of a row


def bar_rows(values: Sequence[float], height: int, peak: float) -> list[str]:
    """``height`` rows of bars, the top row first: a column per value, ``peak`` the full height."""
    peak = peak or 1.0
    return [
        "".join(BLOCKS[max(0, min(8, round((v / peak * height - (level - 1)) * 8)))] for v in values)
        for level in range(height, 0, -1)
    ]


def time_axis(columns: int, seconds: float, label: Callable[[float], str], spacing: int = 12) -> str:
    """Labels under a chart of ``columns`` columns of ``seconds`` each: ``label(offset)`` every
    ``spacing`` columns, each starting under the column it names, and the end's at the right."""
    line = ""
    for col in range(0, columns, spacing):
        text = label(col * seconds)
        if columns - col >= len(text) or col == 0:
            line = line.ljust(col) + text
    end = label(columns * seconds)
    if len(line) < columns - len(end):
        line = line.ljust(columns - len(end) + 1) + end
    return line


NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)


def recent_axis(columns: int, seconds: float, end: str, spacing: int = 12) -> str:
    """Labels under a chart of the recent past, ``end`` under its last column and a round time
    before it (``-30s``, ``-1m``, ``-2m30s``) every ``spacing`` columns or more, centred on its column."""
    # a round step that leaves ``spacing`` columns between labels; past a day a column, whole columns
    # (a recording's odd clock can make a column years long: the labels must stay columns apart)
    step = next((s for s in NICE_STEPS if s / seconds >= spacing), seconds * spacing)
    line = [" "] * (columns + 1)
    start = max(0, columns - len(end))
    line[start : start + len(end)] = end
    free_until = start - 1  # labels go right to left, a space between them
    back = step
    while (col := columns - 1 - round(back / seconds)) >= 0:
        text = f"-{duration_text(back)}"
        first = max(0, col - len(text) // 2)
        if first + len(text) < free_until:
            line[first : first + len(text)] = text
            free_until = first - 1
        back += step
    return "".join(line).rstrip()


def duration_text(seconds: float) -> str:
    """``45s``, ``2m``, ``1m30s``, ``2h5m``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s" if seconds % 60 else f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds % 3600 else f"{seconds // 3600}h"


def bytes_text(n: float, space: str = " ") -> str:
    """``812 B``, ``32.7 kB``, ``1.2 GB`` (decimal units)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f}{space}{unit}" if unit == "B" else f"{n:.1f}{space}{unit}"
        n /= 1000
    return f"{n:.1f}{space}GB"


def rate_text(value: float, unit: str) -> str:
    """A chart's scale: ``157.2 kB/s`` for bytes, ``600/s`` or ``2.5/s`` for counts."""
    if unit == "B/s":
        return bytes_text(value) + "/s"
    return f"{value:,.0f}{unit}" if value >= 10 else f"{value:.1f}{unit}"
