"""noop: does nothing; for measuring the cost of running a task, and for tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.transforms.library import Builtin

if TYPE_CHECKING:
    from core.transforms.context import TransformContext

TEMPLATES = [
    Builtin(
        name="noop",
        entrypoint="core.transforms.library.noop:noop",
        description="Does nothing (measures the cost of a task; a placeholder).",
        tags=("utility",),
    )
]


def noop(ctx: TransformContext) -> None:
    """Log that it ran, and nothing else."""
    ctx.logger.info("noop ran for transformation %s in run %s", ctx.transform_id, ctx.run_id)
