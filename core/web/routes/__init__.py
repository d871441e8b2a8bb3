"""The UI's pages, one module per noun."""

from __future__ import annotations

from core.web.routes import (
    arrange,
    audit,
    auth,
    checks,
    datasets,
    logs,
    pipelines,
    runs,
    transformations,
)

ROUTERS = (
    auth.router,
    pipelines.router,
    arrange.router,
    transformations.router,
    checks.router,
    runs.router,
    logs.router,
    audit.router,
    datasets.router,
)
