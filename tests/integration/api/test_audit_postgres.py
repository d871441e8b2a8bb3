"""The audit trail in words on PostgreSQL, where triggers write it and images are JSONB.

The same tests as tests/unit/service/test_audit_entries.py (sentences, links, hidden
bookkeeping, the pipeline and day filters, the fixed number of queries), on a migrated
PostgreSQL database holding the unit tests' small world.
"""

from __future__ import annotations

import pytest

from core.settings import Settings
from tests.support.worlds import load_test_world
from tests.unit.conftest import WORLD
from tests.unit.service.test_audit_entries import (  # noqa: F401 - collected here too
    test_a_created_transformation_names_its_template_and_pipeline,
    test_a_deleted_check_and_a_deleted_transformation_keep_their_names,
    test_a_variable_change_is_one_sentence_linked_to_its_transformation,
    test_bookkeeping_alone_is_no_change_and_never_shown,
    test_names_take_a_fixed_number_of_queries_however_many_entries,
    test_the_date_range_is_inclusive_days_in_utc,
    test_the_pipeline_filter_keeps_its_own_rows_only,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def world(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The small world on a fresh PostgreSQL database."""
    monkeypatch.setenv("CORE_DATABASE_URL", postgres_url)
    return load_test_world(WORLD)
