"""Lake fixtures for unit tests: a local lake under the test's private CORE_HOME."""

from __future__ import annotations

import pytest

from core.settings import Settings, load_settings


@pytest.fixture
def lake_settings() -> Settings:
    """Settings whose lake is a local directory (CORE_HOME/lake)."""
    return load_settings()
