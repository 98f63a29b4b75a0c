"""Fixtures for the dashboard's tests: times in UTC, the default protocol."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from gwtool.protocol.definition import load_protocol


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """Stream lines print local times: pin the zone so snapshots do not depend on the machine."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture(autouse=True)
def config_home(tmp_path, monkeypatch):
    """The dashboard remembers its theme in the user's config dir: never the real one in tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.fixture(scope="session")
def proto():
    return load_protocol(use_env=False)
