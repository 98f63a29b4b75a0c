"""Terminal escape injection: strings a peer controls reach the gateway's console as visible text.

Each vector goes through a real gateway (event name, cache type, data, an undecodable frame, a
service's close reason, an HTTP path) into the console, as a terminal and as a pipe.
"""

from __future__ import annotations

import re

import orjson
from gateway_testkit import closed_with, hello, http, op, send, service, until
from test_console_output import Captured

from gwtool.gateway import MockGateway
from gwtool.output import WireOutput
from gwtool.text import printable

VECTORS = {
    "title": "\x1b]0;owned\x07",  # OSC 0: sets the terminal's title
    "clipboard": "\x1b]52;c;ZXZpbA==\x07",  # OSC 52: writes the clipboard (paste-jacking)
    "colour": "\x1b[31;1m",  # SGR
    "link": "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    "c1": "\x9b31m\x9d0;x\x9c",  # C1 CSI / OSC / ST
    "del": "a\x7fb",
    "bidi": "\u202eevil\u202c\u2066x\u2069",
}
HOSTILE = "".join(VECTORS.values())
SGR = re.compile(r"\x1b\[[0-9;]*m")  # the only escapes the console writes itself


def assert_safe(text: str) -> None:
    rest = SGR.sub("", text)
    assert "\x1b" not in rest and "\x07" not in rest, repr(rest[:300])
    assert not re.search("[\x80-\x9f\u202a-\u202e\u2066-\u2069\x7f]", rest), repr(rest[:300])


def test_the_sanitizer_shows_every_vector_visibly():
    for name, vector in VECTORS.items():
        shown = printable(vector)
        assert_safe(shown)
        assert shown != vector, name
    assert printable("\u202eevil") == "<U+202E>evil"
    assert printable("plain ascii stays") == "plain ascii stays"


async def drive_hostile_peer(gw: MockGateway) -> None:
    ws, _ = await service(gw, "sharder")
    await send(ws, {"op": op("EVENT"), "t": "NOPE" + HOSTILE, "d": {}})  # unknown event: closed, name shown
    await closed_with(ws)
    ws, _ = await service(gw, "sharder")
    await send(ws, {"op": op("CACHE"), "type": HOSTILE, "d": {"x": HOSTILE}})
    await closed_with(ws)
    ws = await hello(gw)
    await ws.send("not json" + HOSTILE)  # undecodable: its preview is shown
    await closed_with(ws)
    ws, _ = await service(gw, "sharder")
    await ws.close(4000, HOSTILE[:100])  # a close reason of the service's own
    await http(gw, "/cache/" + "%1b%5d0%3bowned%07")  # an HTTP path, percent-encoded escapes


async def test_the_console_shows_hostile_strings_as_text_in_a_terminal_and_a_pipe(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    for terminal in (True, False):
        captured = Captured()
        async with MockGateway() as gw:
            output = WireOutput(gw.proto, stdout=captured, terminal=terminal, show_conn=True, every=True)
            gw.subscribe(output)
            await drive_hostile_peer(gw)
            await until(lambda: gw.connection_count == 0)
            await output.aclose()
        text = captured.text()
        assert_safe(text)
        assert "<U+202E>evil" in text and "<U+009B>" in text  # shown, visibly
        assert "closed 4000" in text and "HTTP GET" in text
        if not terminal:
            assert "\x1b" not in text


def test_ndjson_keeps_the_peer_s_string_exactly():
    """NDJSON is data for programs: the string is JSON-escaped by the encoder, not rewritten."""
    from gwtool.console import ndjson
    from gwtool.records import Record

    line = ndjson(Record("in", 10, {"op": op("EVENT"), "t": HOSTILE, "d": {}}))
    assert orjson.loads(line)["t"] == HOSTILE
