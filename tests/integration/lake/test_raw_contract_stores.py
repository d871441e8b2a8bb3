"""The raw contract unit tests again, on a local lake and on S3 (moto's server over HTTP).

This directory's ``lake_settings`` fixture is parametrized over ``local`` and ``s3``,
so every test body imported here runs against both stores.
"""

from __future__ import annotations

import pytest

from tests.unit.lake.test_raw_contract import *  # noqa: F403

pytestmark = pytest.mark.integration
