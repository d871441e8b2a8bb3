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
}

# The modules that declare TEMPLATES; each lists the Builtin templates it implements.
MODULES = ("noop",)


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
