"""docs/protocol.md is generated from the definition and stays in step with it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson

from gwtool.protocol import docs
from gwtool.protocol.definition import load_protocol
from gwtool.protocol.validate import validate_payload

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "protocol.md"
PROTO = load_protocol(use_env=False)
TEXT = docs.render(PROTO)


def test_docs_protocol_md_is_up_to_date() -> None:
    assert DOC.read_text("utf-8") == TEXT, f"docs/protocol.md is stale: run `{docs.REGENERATE}`"


def test_module_prints_the_same_markdown(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gwtool.protocol.docs"], capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={"PATH": "", "GWTOOL_PROTOCOL": str(tmp_path / "ignored.toml")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == TEXT


def json_blocks(text: str) -> list[object]:
    return [orjson.loads(block) for block in re.findall(r"```json\n(.*?)\n```", text, re.S)]


def test_every_example_payload_in_the_docs_is_valid() -> None:
    payloads = [b for b in json_blocks(TEXT) if isinstance(b, dict) and "op" in b]
    kinds = {(p["op"], p.get("t"), p.get("type")) for p in payloads}
    assert len(payloads) >= 15
    for opcode in PROTO.opcodes.values():  # an example of every opcode
        assert any(op == opcode.code for op, _, _ in kinds), opcode.name
    for t in PROTO.events:
        assert (PROTO.op("EVENT"), t, None) in kinds, t
    for kind in PROTO.cache_types:
        assert (PROTO.op("CACHE"), None, kind) in kinds, kind
    for payload in payloads:
        as_service = validate_payload(PROTO, payload, sender="service")
        as_gateway = validate_payload(PROTO, payload, sender="gateway")
        assert not as_service or not as_gateway, (payload, as_service, as_gateway)


def test_docs_show_every_table_row() -> None:
    for name, opcode in PROTO.opcodes.items():
        assert f"| {opcode.code} | `{name}` |" in TEXT
    for close in PROTO.close_codes.values():
        assert TEXT.count(f"| {close.code} | `{close.name}` |") >= 2  # the table and its example
    from gwtool.protocol.definition import RFC6455_CLOSE_NAMES, WEBSOCKET_CLOSES

    for code, when in WEBSOCKET_CLOSES:  # the websocket layer's own closes
        assert f"| {code} | `{RFC6455_CLOSE_NAMES[code]}` | {when} |" in TEXT
    for kind, structure in PROTO.cache_types.items():
        assert f"### {kind}\n" in TEXT and f"`GET {docs._rest_path(structure)}`" in TEXT
    for structure in PROTO.structures.values():
        for f in structure.fields:
            assert f"| `{f.path}` | `{str(f.type).replace('|', chr(92) + '|')}` |" in TEXT, (structure.name, f.path)
    for service in PROTO.services:
        assert f"A `{service}` service sends:" in TEXT


def test_close_examples_name_the_field_and_fit_a_close_frame() -> None:
    samples = docs.close_examples(PROTO)
    assert set(samples) == set(PROTO.close_codes)
    assert samples["INVALID_PAYLOAD"][1] == "d.ids.shard: expected integer, got string"
    assert samples["EVENT_NOT_ALLOWED"][1] == "EXECUTE_COMMAND may not be sent by commands (from: sharder)"
    assert samples["UNKNOWN_OPCODE"][1].startswith("op: unknown opcode 7")
    assert all(len(reason.encode()) <= 123 for _, reason in samples.values())


def test_the_extension_example_in_the_docs_works(tmp_path: Path) -> None:
    assert docs.EXTENSION_EXAMPLE in TEXT
    path = tmp_path / "music.toml"
    path.write_text(docs.EXTENSION_EXAMPLE, "utf-8")
    proto = load_protocol(path, use_env=False)
    play = {"op": proto.op("EVENT"), "t": "PLAY_SONG", "d": proto.events["PLAY_SONG"].example}
    assert validate_payload(proto, play) == []
    music_docs = docs.render(proto)
    assert "### Play Song (`PLAY_SONG`)" in music_docs and "A `music` service sends:" in music_docs
    assert "music.toml: events.PLAY_SONG.to: unknown service type 'musik'" in TEXT


def test_docs_for_a_user_protocol_validate_too(tmp_path: Path) -> None:
    path = tmp_path / "music.toml"
    path.write_text(docs.EXTENSION_EXAMPLE, "utf-8")
    proto = load_protocol(path, use_env=False)
    for payload in (b for b in json_blocks(docs.render(proto)) if isinstance(b, dict) and "op" in b):
        assert not validate_payload(proto, payload, sender="service") or not validate_payload(proto, payload, sender="gateway")
