"""The UI's pages, one module per noun."""

from __future__ import annotations

from core.web.routes import (
    arrange,
    audit,
    auth,
    checks,
    datasets,
    logs,
    pipeline_edit,
    pipelines,
    runs,
    templates,
    transformations,
    users,
)

ROUTERS = (
    auth.router,
    pipelines.router,
    pipeline_edit.router,
    arrange.router,
    transformations.router,
    checks.router,
    runs.router,
    logs.router,
    audit.router,
    datasets.router,
    templates.router,
    users.router,
)
