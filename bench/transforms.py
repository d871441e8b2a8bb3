"""Transforms used only by the benchmarks (entrypoints ``bench.transforms:…``)."""

from __future__ import annotations

import time
from typing import Any


def spin(ctx: Any) -> None:
    """Keep one core busy for ``seconds`` (a CPU-bound transformation of known length)."""
    deadline = time.process_time() + float(ctx.variables["seconds"])
    total = 0
    while time.process_time() < deadline:
        total += sum(range(1000))
    ctx.metadata["rows_out"] = 0
