"""The API tests' fixtures (an app on the sample configuration, users with tokens)."""

from tests.unit.api.conftest import (  # noqa: F401 - fixtures, found by pytest by name
    admin,
    app,
    client,
    editor,
    seeded_database,
    settings,
    users,
    viewer,
)
