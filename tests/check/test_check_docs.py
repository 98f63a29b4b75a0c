"""docs/check.md lists every case of both suites, as generated from their case tables."""

from pathlib import Path

from gwtool.check.docs import check_markdown, generated_block
from gwtool.check.gateway_suite import gateway_cases
from gwtool.check.service_suite import service_cases
from gwtool.protocol.definition import load_protocol

DOC = Path(__file__).parents[2] / "docs" / "check.md"


def test_docs_check_md_shows_the_case_tables_as_generated():
    block = generated_block(DOC.read_text())
    assert block is not None, "docs/check.md lost its generated block"
    assert block == check_markdown(), "docs/check.md is stale: run python -m gwtool.check.docs docs/check.md"


def test_every_case_id_is_unique_and_documented_with_a_reason():
    proto = load_protocol(use_env=False)
    for cases in (gateway_cases(proto), service_cases(proto)):
        ids = [c.id for c in cases]
        assert len(ids) == len(set(ids))
        assert all(c.title and c.expected and c.why for c in cases)


def test_a_protocol_file_adds_cases_with_no_code_change(tmp_path):
    extra = tmp_path / "mine.toml"
    extra.write_text(
        '[services.music]\ndoc = "plays music"\n'
        '[events.PLAY]\nname = "Play"\nfrom = ["commands"]\nto = ["music"]\nrouting = "round_robin"\ndoc = "play a song"\n'
        '[events.PLAY.fields]\nsong = { type = "string", doc = "what to play" }\ncount = { type = "integer", doc = "times" }\n'
    )
    proto = load_protocol(extra, use_env=False)
    ids = {c.id for c in gateway_cases(proto)}
    assert {
        "identified.music",
        "routing.round-robin.PLAY",
        "invalid.event.PLAY",
        "permission.event.PLAY",
        "rest.services.music",
    } <= ids
