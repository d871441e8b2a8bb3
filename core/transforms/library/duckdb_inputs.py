"""Upstream datasets as views of a DuckDB connection, read by DuckDB where it may.

A ``sql`` step's query reads its inputs. Handed to DuckDB as Arrow tables, each input
was first decoded into Arrow in full (every text value copied out of its Parquet
dictionary) and then scanned again; on a local lake DuckDB reads the run's Parquet files
itself, only the columns the query uses, in parallel, in half the time and without the
Arrow copy (docs/performance.md, "Eleventh round"). The database that does so may read
exactly those files (core.helpers.duckdb_helper.reading); inputs elsewhere (S3, a table
of a later Delta protocol) are still read through the lake as Arrow. Either way a view
has the same columns of the same types: where the files would give another type than
the lake's reader (a file written by another writer), that input is read as Arrow.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import duckdb

from core.errors import LakeError
from core.helpers.duckdb_helper import locked_duckdb, reading
from core.lake.run_files import RunFiles
from core.stop import interruptible
from core.transforms.library._common import quote

if TYPE_CHECKING:
    from core.transforms.context import TransformContext

# The standard templates whose tasks read their inputs here: a worker waiting for its
# turn opens their database ahead (core.transforms.runtime.prepare_worker).
TEMPLATES = ("sql",)


@contextmanager
def inputs_in_duckdb(
    ctx: TransformContext, names: list[str]
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection in which each input is a view of its name, interrupted on a stop request.

    Each view holds this run's rows of the dataset without the standard metadata columns,
    as :meth:`TransformContext.input` gives them with ``metadata=False``; its rows count
    towards the task's rows in.

    Raises:
        NotFoundError: an input is not a dataset of the pipeline.
        LakeError: an input cannot be read.
    """
    sources = {name: ctx.input_source(name) for name in names}
    files = [path for s in sources.values() if isinstance(s, RunFiles) for path in s.paths]
    with reading(files) if files else locked_duckdb() as con, interruptible(con.interrupt):
        for name, source in sources.items():
            if not isinstance(source, RunFiles):
                con.register(name, source)
            elif not _view_of_files(con, name, source):
                con.register(name, ctx.input(name, metadata=False))
            else:
                counted = con.execute(f"SELECT count(*) FROM {quote(name)}").fetchall()  # noqa: S608
                ctx.rows_in += int(counted[0][0])
        yield con


def _view_of_files(con: duckdb.DuckDBPyConnection, name: str, source: RunFiles) -> bool:
    """Make ``name`` a view of the files' columns; False (nothing made) when the files do
    not have those columns with the types the lake's Arrow reader would give.

    Raises:
        LakeError: a file cannot be read (gone, or not Parquet), naming the input.
    """
    try:
        relation = con.read_parquet(source.paths)
    except duckdb.Error as exc:
        raise LakeError(
            f"input {name!r}: its files cannot be read ({exc}); expected the Parquet files "
            f"its Delta log names for this run: re-run the transformation that writes "
            f"{name!r} to publish them again"
        ) from None
    if not set(source.schema.names) <= set(relation.columns):
        return False
    relation = relation.select(*(duckdb.ColumnExpression(c) for c in source.schema.names))
    if relation.types != con.from_arrow(source.schema.empty_table()).types:
        return False
    relation.create_view(name)
    return True
