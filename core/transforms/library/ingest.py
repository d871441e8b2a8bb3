"""initial_ingest: read delimited files of the pipeline's raw folders into a dataset.

Every column is read as text (typing is the job of later states). Each row
carries ``__metadata_source_file``, the raw file it came from. Files are read
with pyarrow's CSV reader, straight from the lake (local or S3), decompressed
by their extension (.gz, .bz2, .zst, .lz4, .br), one at a time by
:mod:`core.transforms.library.delimited`. Every file is read before
anything is published, so a malformed file leaves the dataset untouched: a row
with the wrong number of fields, a quote never closed, bytes that are not the
encoding (or look binary: a NUL byte, a UTF-16/32 byte-order mark), or a header
that repeats a name or uses CORE's ``__metadata_`` prefix, each named with the
file and, where there is one, the line.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from core.errors import TransformationVariableTypeError, TransformError
from core.lake.raw_contract import RawContract, RawFile
from core.transforms.library import Builtin
from core.transforms.library._common import (
    DATASET,
    FILE_PART,
    SHOWN,
    SOURCE_FILE,
    owner,
    spec,
    variable,
)
from core.transforms.library.delimited import CsvFormat, read_file

if TYPE_CHECKING:
    from core.transforms.context import TransformContext

DELIMITER_WORDS = {"\\t": "\t", "tab": "\t"}

TEMPLATES = [
    Builtin(
        name="initial_ingest",
        entrypoint="core.transforms.library.ingest:initial_ingest",
        description=(
            "Read delimited files (.csv by default; .txt, .tsv… by suffix; compressed .gz, "
            ".bz2, .zst, .lz4, .br by their ending, e.g. .csv.gz) of the pipeline's raw "
            "folders into a dataset, every column as a string. By default (cumulate_flag "
            "false) only the newest matching file is read and the others are recorded as "
            "skipped; set cumulate_flag to read them all. required_columns (default none) "
            "fails the task when a file read lacks one."
        ),
        state="ingest",
        tags=("ingest", "csv"),
        variables={
            "dataset": spec("string", "name of the output dataset", check=DATASET),
            "prefix": spec(
                "string", "read raw files whose names start with this", "", check=FILE_PART
            ),
            "suffix": spec(
                "string", "read raw files whose names end with this", ".csv", check=FILE_PART
            ),
            "delimiter": spec(
                "string",
                "one character; 'tab' or \\t for a tab",
                ",",
                check={"kind": "single_char", "words": DELIMITER_WORDS, "forbidden": '\r\n"'},
            ),
            "encoding": spec(
                "string", "text encoding: utf-8, latin-1, cp1252…", "utf-8", check="encoding"
            ),
            "skip_rows": spec(
                "int",
                "lines to skip before the header (or the data)",
                0,
                check={"kind": "range", "min": 0},
            ),
            "header": spec("bool", "the first row names the columns; else column_1..n", True),
            "cumulate_flag": spec(
                "bool", "read every matching file; else only the latest (default)", False
            ),
            "required_columns": spec(
                "list", "columns every file read must have; a file lacking one fails", []
            ),
        },
    )
]


def initial_ingest(ctx: TransformContext) -> None:
    """Read the matching raw files and publish their union, every column as text.

    Args:
        ctx: the transformation's context.

    Raises:
        TransformationVariableTypeError: the delimiter, encoding or skip_rows is not valid.
        TransformError: no file matches, or a file is malformed or not in the encoding.
    """
    fmt, required = csv_format(ctx), required_columns(ctx)
    tables, empty = [], []
    selected = matching_files(ctx)
    for contract, raw in selected.read:
        table = read_file(contract, raw, fmt)
        if table is None:
            ctx.logger.warning("raw file %r has no rows to read; skipped", raw.name)
            empty.append(raw.name)
        else:
            check_required(ctx, raw, table, required, fmt)
            tables.append(table)
    result = union(ctx, tables)
    ctx.rows_in += result.num_rows
    ctx.metadata.update(files_read=len(tables), files_empty=len(empty), rows_out=result.num_rows)
    if empty:
        ctx.metadata["empty_files"] = empty[:SHOWN]
    ctx.publish(result)


def csv_format(ctx: TransformContext) -> CsvFormat:
    """The reading options from the variables, validated.

    Raises:
        TransformationVariableTypeError: a variable is not valid (named, with its value).
    """
    delimiter = str(variable(ctx, "delimiter", ","))
    delimiter = DELIMITER_WORDS.get(delimiter, delimiter)
    if len(delimiter) != 1 or delimiter in '\r\n"':
        raise TransformationVariableTypeError(
            f"{owner(ctx)}: variable 'delimiter'={delimiter!r} is not valid: expected one "
            "character such as ',', ';', '|' or 'tab' (not a quote or a line break)"
        )
    skip_rows = int(variable(ctx, "skip_rows", 0))
    if skip_rows < 0:
        raise TransformationVariableTypeError(
            f"{owner(ctx)}: variable 'skip_rows'={skip_rows!r} is not valid: expected 0 or more"
        )
    encoding = _encoding(ctx, str(variable(ctx, "encoding", "utf-8")))
    return CsvFormat(delimiter, encoding, skip_rows, bool(variable(ctx, "header", True)))


def _encoding(ctx: TransformContext, name: str) -> str:
    try:
        codec = codecs.lookup(name.strip())
        if not getattr(codec, "_is_text_encoding", True):  # e.g. base64, zlib
            raise LookupError(name)
    except LookupError:
        raise TransformationVariableTypeError(
            f"{owner(ctx)}: variable 'encoding'={name!r} is not a known text encoding: expected "
            "a Python codec name such as 'utf-8', 'latin-1', 'cp1252' or 'utf-16'"
        ) from None
    return "utf8" if codec.name == "utf-8" else name.strip()


def required_columns(ctx: TransformContext) -> list[str]:
    """The ``required_columns`` variable: column names every file read must have.

    Raises:
        TransformationVariableTypeError: it is not a list of non-blank names.
    """
    value = variable(ctx, "required_columns", [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise TransformationVariableTypeError(
            f"{owner(ctx)}: variable 'required_columns'={value!r} is not valid: expected a "
            'JSON list of column names such as ["id", "amount"]'
        )
    return value


def check_required(
    ctx: TransformContext, raw: RawFile, table: pa.Table, wanted: list[str], fmt: CsvFormat
) -> None:
    """Fail when the file just read lacks a required column (not the dataset's schema).

    Raises:
        TransformError: naming the file, the missing columns and the columns it has.
    """
    has = [c for c in table.column_names if c != SOURCE_FILE]
    missing = [c for c in wanted if c not in has]
    if missing:
        raise TransformError(
            f"{owner(ctx)}: raw file {raw.name!r} lacks required column(s) "
            f"{', '.join(map(repr, missing))}; its columns are {', '.join(map(repr, has))} "
            f"(read with delimiter {fmt.delimiter!r}); nothing was published"
        )


@dataclass(frozen=True)
class Selection:
    """The raw files that match, split into those read and those skipped."""

    read: list[tuple[RawContract, RawFile]]
    skipped: list[tuple[RawContract, RawFile]]

    @property
    def note(self) -> str:
        """ "read 1 of 3 matching files (cumulate_flag is false)", or "" when all are read."""
        if not self.skipped:
            return ""
        matched = len(self.read) + len(self.skipped)
        return f"read {len(self.read)} of {matched} matching files (cumulate_flag is false)"


def matching_files(ctx: TransformContext) -> Selection:
    """The raw files to read: every match (cumulate_flag) or the latest one.

    When files are skipped, the task records which were read and which skipped, and
    says so in the log and in its note (the run summary and the run page show it).

    Raises:
        TransformError: the pipeline has no raw folder, or no file matches.
    """
    prefix, suffix = str(variable(ctx, "prefix", "")), str(variable(ctx, "suffix", ""))
    contracts = ctx.raw_inputs()
    found = [(c, f) for c in contracts for f in c.list_files(prefix, suffix)]
    if not found:
        stored = sorted({f.name for c in contracts for f in c.list_files()})
        shown = ", ".join(stored[:SHOWN]) + (" …" if len(stored) > SHOWN else "")
        folders = ", ".join(c.uri for c in contracts) or "none (the pipeline has no raw state)"
        raise TransformError(
            f"{owner(ctx)}: no raw file matches prefix {prefix!r} and suffix {suffix!r} in "
            f"{folders}; files there: {shown or 'none'}"
        )
    if variable(ctx, "cumulate_flag", False):
        selection = Selection(found, [])
    else:
        latest = max(found, key=lambda pair: (pair[1].effective_time, pair[1].name))
        selection = Selection([latest], [pair for pair in found if pair is not latest])
    _record_selection(ctx, selection)
    return selection


def _record_selection(ctx: TransformContext, selection: Selection) -> None:
    read = [raw.name for _, raw in selection.read]
    skipped = sorted(raw.name for _, raw in selection.skipped)
    ctx.metadata.update(files_matched=len(read) + len(skipped), read_files=read[:SHOWN])
    if skipped:
        ctx.metadata["skipped_files"] = skipped[:SHOWN]
        ctx.note(selection.note)
        ctx.logger.warning(
            "%s: read %s, skipped %s%s; set cumulate_flag to read every matching file",
            selection.note,
            ", ".join(map(repr, read)),
            ", ".join(map(repr, skipped[:SHOWN])),
            " …" if len(skipped) > SHOWN else "",
        )


def union(ctx: TransformContext, tables: list[pa.Table]) -> pa.Table:
    """The tables stacked, columns matched by name (missing ones null), source file last.

    With no table (every file empty), an empty table with the dataset's current columns.
    """
    if not tables:
        return _empty(ctx)
    result = pa.concat_tables(tables, promote_options="default")
    order = [c for c in result.column_names if c != SOURCE_FILE] + [SOURCE_FILE]
    return result.select(order)


def _empty(ctx: TransformContext) -> pa.Table:
    columns = [SOURCE_FILE]
    if ctx.output.exists():
        existing = ctx.output.fetch_arrow(limit=0).column_names
        columns = [c for c in existing if not c.startswith("__metadata_")] + columns
    return pa.schema([(c, pa.string()) for c in columns]).empty_table()
