"""The gateway's own close reasons live in one table; docs/gateway.md shows it as generated."""

from __future__ import annotations

import re
from pathlib import Path

from gateway_testkit import PROTO

from gwtool.session.reasons import REASONS, reason, reasons_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "gateway.md"


def test_docs_gateway_md_shows_the_reasons_table_as_generated():
    block = re.search(r"<!-- reasons:[^\n]*-->\n(.*?)\n<!-- /reasons -->", DOC.read_text("utf-8"), re.S)
    assert block, "docs/gateway.md lost its reasons block"
    assert block.group(1) == reasons_markdown(), "docs/gateway.md's reasons are stale: paste reasons_markdown()"


def test_every_reason_names_a_close_code_of_the_definition_and_fits_a_close_frame():
    for name, (close, _, example) in REASONS.items():
        assert close in PROTO.close_codes, name
        assert len(reason(name, **example)[1].encode()) <= 123, name
