"""What the dashboard remembers between runs (the theme), in the user's config directory.

``$XDG_CONFIG_HOME/gwtool/tui.json`` (``~/.config/gwtool/tui.json``; ``%APPDATA%`` on Windows).
A missing, unreadable or hostile file is the defaults: it never stops the dashboard.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

MAX_BYTES = 64 << 10


def settings_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or (os.environ.get("APPDATA") if os.name == "nt" else None)
    return Path(base or Path.home() / ".config") / "gwtool" / "tui.json"


def load_settings() -> dict[str, Any]:
    try:
        path = settings_path()
        if path.stat().st_size > MAX_BYTES:
            return {}
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError, RuntimeError):  # RuntimeError: no home directory
        return {}
    return data if isinstance(data, dict) else {}


def save_setting(key: str, value: Any) -> bool:
    """Store one setting; False when the directory cannot be written (read-only home, say)."""
    settings = load_settings()
    settings[key] = value
    try:
        path = settings_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(settings, option=orjson.OPT_INDENT_2))
        tmp.replace(path)
    except (OSError, RuntimeError):
        return False
    return True
