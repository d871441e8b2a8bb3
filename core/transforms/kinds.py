"""The kinds of transformation, keyed by the template's ``kind``.

A kind is a function ``(ctx, template) -> KindResult``. The registry holds
import paths, so that running a Python transform never imports papermill.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import ConfigurationError, did_you_mean
from core.transforms.library import BUILTINS

if TYPE_CHECKING:
    from core.transforms.context import TransformContext


@dataclass(frozen=True)
class TemplateRef:
    """What the runtime needs of a template."""

    name: str
    kind: str
    entrypoint: str | None


@dataclass(frozen=True)
class KindResult:
    """What a kind reports besides what the context recorded."""

    notebook_location: str | None = None


KINDS: dict[str, str] = {
    "python": "core.transforms.kinds:run_python",
    "notebook": "core.transforms.notebook:run_notebook",
}


def kind_runner(kind: str) -> Callable[[TransformContext, TemplateRef], KindResult]:
    """The function that runs transformations of a kind.

    Raises:
        ConfigurationError: the kind is unknown.
    """
    if kind not in KINDS:
        raise ConfigurationError(
            f"transformation kind {kind!r} is unknown; expected one of {', '.join(KINDS)}."
            + did_you_mean(kind, KINDS)
        )
    return load_callable(KINDS[kind], f"kind {kind!r}")


def load_callable(path: str, what: str) -> Callable[..., Any]:
    """Import ``module:function``.

    Raises:
        ConfigurationError: the path is malformed, or the module or function is missing.
    """
    module_name, _, function_name = path.partition(":")
    if not module_name or not function_name:
        raise ConfigurationError(
            f"{what}: entrypoint {path!r} is not valid; expected 'package.module:function'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"{what}: cannot import {module_name!r}: {exc}") from exc
    except Exception as exc:  # a syntax error or a failing import-time statement in user code
        raise ConfigurationError(
            f"{what}: importing {module_name!r} for entrypoint {path!r} raised "
            f"{type(exc).__name__}: {exc}; fix the module"
        ) from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ConfigurationError(
            f"{what}: {module_name!r} has no function {function_name!r}."
            + did_you_mean(function_name, [n for n in dir(module) if not n.startswith("_")])
        )
    return function


def python_entrypoint(template: TemplateRef) -> str:
    """The ``module:function`` of a python template: its entrypoint, or a built-in by name.

    Raises:
        ConfigurationError: no entrypoint and no built-in of that name.
    """
    if template.entrypoint:
        return template.entrypoint
    if template.name in BUILTINS:
        return BUILTINS[template.name]
    raise ConfigurationError(
        f"template {template.name!r} has no entrypoint and is not a built-in transform; set "
        f"entrypoint to 'package.module:function' or use one of {', '.join(sorted(BUILTINS))}."
        + did_you_mean(template.name, BUILTINS)
    )


def run_python(ctx: TransformContext, template: TemplateRef) -> KindResult:
    """Call the template's function with the context; a returned table is published."""
    function = load_callable(python_entrypoint(template), f"template {template.name!r}")
    result = function(ctx)
    if _is_table(result) and ctx.published is None:
        ctx.publish(result)
    return KindResult()


def _is_table(value: Any) -> bool:
    # Checked through sys.modules: a transform that returns a DataFrame has imported pandas.
    kinds = [
        getattr(sys.modules.get(m), n, None)
        for m, n in (("pandas", "DataFrame"), ("pyarrow", "Table"))
    ]
    return any(kind is not None and isinstance(value, kind) for kind in kinds)
