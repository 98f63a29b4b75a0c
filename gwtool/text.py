"""Text from the wire, made safe to show: the one sanitizer every front end uses.

Anything a peer controls (event names, cache types, data, close reasons, HTTP paths, undecodable
frames) may carry terminal control sequences: ESC and the other C0 controls, DEL, the C1 controls
(U+0080–U+009F, which some terminals obey as CSI/OSC), and the bidirectional overrides and isolates
(U+202A–U+202E, U+2066–U+2069) that reorder what a line appears to say. ``printable`` shows each
as a visible stand-in, so it can be read but never obeyed.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SHOWN = {"\t": " ", "\n": "⏎", "\r": "⏎"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHOWN:
        return _SHOWN[char]
    if char < "\x20" or char == "\x7f":
        return "�"  # ESC, C0 and DEL: one replacement character each
    return f"<U+{ord(char):04X}>"  # C1 and bidi: named, so the trick can be seen


def printable(text: str) -> str:
    """``text`` as one safe line: control characters and bidi overrides become visible stand-ins."""
    if text.isascii() and text.isprintable():  # the common case: nothing to do (fast)
        return text
    return _UNSAFE.sub(_visible, text)


def printable_json(data: bytes) -> str:
    """``printable`` for JSON that orjson wrote: it escapes every C0 control, so ASCII output can
    only hold a DEL, and two C-speed byte scans clear it (``str.isprintable`` looks up each character)."""
    if data.isascii() and b"\x7f" not in data:
        return data.decode("ascii")
    return printable(data.decode())


def printable_frame(frame: str) -> str:
    """``printable`` for a text frame orjson decoded: it refuses control characters inside strings,
    so only whitespace between tokens and DEL can be there, and four C-speed scans clear the common
    frame (``isascii()`` is O(1))."""
    if frame.isascii() and "\n" not in frame and "\r" not in frame and "\t" not in frame and "\x7f" not in frame:
        return frame
    return printable(frame)


def printable_lines(text: str) -> str:
    """Like ``printable`` but keeps line breaks (a message of several lines)."""
    return "\n".join(printable(line) for line in text.split("\n"))


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 payload``, ``2 payloads``, ``1,000 payloads``: a count with its noun agreeing
    (``nouns`` for an irregular plural)."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"
