"""docs/check.md's case tables, generated from the suites themselves (for the built-in protocol).

``python -m gwtool.check.docs docs/check.md`` rewrites the generated block in place; a test keeps
it current.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from gwtool.check.cases import cases_markdown
from gwtool.check.gateway_suite import gateway_cases
from gwtool.check.service_suite import service_cases
from gwtool.protocol.definition import Definition, load_protocol

BLOCK = re.compile(r"(<!-- cases: generated[^>]*-->\n)(.*?)(<!-- /cases -->)", re.S)


def check_markdown() -> str:
    proto = load_protocol(use_env=False)
    gateway, service = gateway_cases(proto), service_cases(proto)
    return (
        f"### `gwtool check gateway`: {len(gateway)} cases\n\n{cases_markdown(gateway)}\n\n"
        f"### `gwtool check service`: {len(service)} cases\n\n{cases_markdown(service)}\n\n"
        f"{fuzz_markdown(proto)}\n"
    )


def fuzz_markdown(proto: Definition) -> str:
    """The generated cases of ``--fuzz``: a row per kind of payload, a column per fault class."""
    from gwtool.check.generate import FAULTS, groups

    pairs = {(kind.id, fault) for kind, fault in groups(proto)}
    kinds = list(dict.fromkeys(kind.id for kind, _ in groups(proto)))
    rows = [
        f"### `gwtool check gateway --fuzz N`: {len(pairs)} generated cases, `fuzz.<kind>.<fault>`",
        "",
        "| kind | " + " | ".join(f"`{fault}`" for fault in FAULTS) + " |",
        "|---|" + "---|" * len(FAULTS),
    ]
    rows += [f"| `{k}` | " + " | ".join("✓" if (k, fault) in pairs else "" for fault in FAULTS) + " |" for k in kinds]
    return "\n".join(rows)


def generated_block(text: str) -> str | None:
    match = BLOCK.search(text)
    return match.group(2) if match else None


def rewrite(path: Path) -> None:
    text = path.read_text()
    if generated_block(text) is None:
        raise SystemExit(f"{path}: no <!-- cases: generated … --> block")
    path.write_text(BLOCK.sub(lambda m: m.group(1) + check_markdown() + m.group(3), text))


if __name__ == "__main__":
    rewrite(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/check.md"))
