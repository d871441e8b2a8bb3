"""Lake fixtures for unit tests: a local lake under the test's private CORE_HOME."""

from __future__ import annotations

import pandas as pd
import pytest

from core.settings import Settings, load_settings


@pytest.fixture
def lake_settings() -> Settings:
    """Settings whose lake is a local directory (CORE_HOME/lake)."""
    return load_settings()


@pytest.fixture
def sales() -> pd.DataFrame:
    """A small frame with ints, floats, strings and dates."""
    return pd.DataFrame(
        {
            "id": [1, 2, 3],
            "amount": [1.5, 2.5, None],
            "region": ["east", "west", "east"],
            "day": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]).date,
        }
    )
