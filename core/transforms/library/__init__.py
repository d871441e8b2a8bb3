"""The standard transforms: each a ``function(ctx: TransformContext)`` with its template.

``BUILTINS`` maps a template name to its ``module:function`` without importing
anything, so a worker imports only the transform it runs. :func:`catalogue`
imports every module and returns the templates they declare (name, state,
description, tags and the variable schema), for registering them in the
configuration (``core transforms register``, the sample configuration).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

BUILTINS: dict[str, str] = {
    "noop": "core.transforms.library.noop:noop",
    "extract_from_landing": "core.transforms.library.landing:extract_from_landing",
    "extract_from_sftp": "core.transforms.library.sftp:extract_from_sftp",
    "publish_to_s3": "core.transforms.library.publish:publish_to_s3",
    "publish_to_sftp": "core.transforms.library.sftp:publish_to_sftp",
    "initial_ingest": "core.transforms.library.ingest:initial_ingest",
    "column_mapping": "core.transforms.library.mapping:column_mapping",
    "value_mapping": "core.transforms.library.mapping:value_mapping",
    "standardize_dates": "core.transforms.library.standardize:standardize_dates",
    "standardize_numbers": "core.transforms.library.standardize:standardize_numbers",
    "sql": "core.transforms.library.sql:sql",
}

# The modules that declare TEMPLATES; each lists the Builtin templates it implements.
MODULES = ("noop", "landing", "sftp", "publish", "ingest", "mapping", "standardize", "sql")


@dataclass(frozen=True)
class Builtin:
    """A standard transform as a template of the configuration."""

    name: str
    entrypoint: str
    description: str
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    state: str | None = None
    tags: tuple[str, ...] = ()


def catalogue() -> list[Builtin]:
    """Every standard transform's template, imported from its module, sorted by name."""
    templates: list[Builtin] = []
    for module in MODULES:
        templates.extend(importlib.import_module(f"{__name__}.{module}").TEMPLATES)
    return sorted(templates, key=lambda t: t.name)
