"""Reading one delimited raw file for ``initial_ingest``: names, rows and what is wrong.

A file is read with pyarrow's CSV reader, straight from the lake (local or S3),
decompressed by its extension, every column as text. Its header comes from the first
64 KiB when that settles it; a block grows when a row straddles it. What is wrong is
named with the file and, where there is one, the line: a row with the wrong number of
fields, a quote never closed, bytes that are not the encoding (or look binary), a header
that repeats a name or uses CORE's ``__metadata_`` prefix.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import pyarrow as pa
import pyarrow.csv as pacsv

from core.errors import TransformError
from core.lake.dataset_contract import METADATA_PREFIX
from core.lake.raw_contract import RawContract, RawFile
from core.transforms.library._common import SOURCE_FILE

# A block must hold the longest row: start at 16 MiB and grow when a row straddles blocks.
BLOCK_SIZES = (16 << 20, 256 << 20, 1 << 30)
# The header is first looked for in the file's first 64 KiB: reading it with a 16 MiB
# block parsed and typed that whole block for the names alone (30-40 ms a file).
HEADER_BLOCK = 64 << 10
ROW_TEXT = 200
# The start of a file looked at for signs that it is not text in the configured encoding.
SNIFF_BYTES = 64 << 10
# UTF-32 first: its little-endian mark starts with UTF-16's.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Appended after a file's last line to see whether a quoted value is still open there.
SENTINEL = "\u2063core-end-of-file\u2063"
T = TypeVar("T")


@dataclass(frozen=True)
class CsvFormat:
    """How the files are read."""

    delimiter: str
    encoding: str  # as pyarrow names it: utf8 (no transcoding) or a Python codec
    skip_rows: int
    header: bool


def read_file(contract: RawContract, raw: RawFile, fmt: CsvFormat) -> pa.Table | None:
    """One raw file as a table of text columns plus ``__metadata_source_file``.

    Args:
        contract: the raw folder.
        raw: the file.
        fmt: how to read it.

    Returns:
        The table, or None when the file has no header and no rows (empty, or
        shorter than skip_rows).

    Raises:
        TransformError: the file is malformed or not in the encoding.
    """
    if raw.size == 0:
        return None
    _check_looks_like_text(_Source(contract, raw, fmt))
    names = _header(_Source(contract, raw, fmt))
    if names is None:
        return None
    table = _with_block_sizes(_Source(contract, raw, fmt, names), _read_rows)
    _check_quotes_closed(_Source(contract, raw, fmt, names), table)
    return table.append_column(SOURCE_FILE, pa.repeat(pa.scalar(raw.name), table.num_rows))


@dataclass(frozen=True)
class _Source:
    """One raw file to read, how, and (once known) its column names."""

    contract: RawContract
    raw: RawFile
    fmt: CsvFormat
    names: list[str] | None = None

    def open(self) -> pa.NativeFile:
        """The file's bytes, decompressed by its extension."""
        path = f"{self.contract.path}/{self.raw.name}"
        return self.contract.filesystem.open_input_stream(path, compression="detect")

    def read_options(self, block_size: int, **extra: object) -> pacsv.ReadOptions:
        """pyarrow's ReadOptions for this file."""
        return pacsv.ReadOptions(
            skip_rows=self.fmt.skip_rows,
            block_size=block_size,
            encoding=self.fmt.encoding,
            **extra,
        )

    def parse_options(self, handler: Callable[..., str] | None = None) -> pacsv.ParseOptions:
        """pyarrow's ParseOptions for this file."""
        return pacsv.ParseOptions(
            delimiter=self.fmt.delimiter, newlines_in_values=True, invalid_row_handler=handler
        )


def _with_block_sizes(source: _Source, read: Callable[[_Source, int], T]) -> T:
    """Call ``read(source, block_size)``, growing the block when a row is very long."""
    for block_size in BLOCK_SIZES:
        try:
            return read(source, block_size)
        except (pa.ArrowInvalid, UnicodeError, OSError) as exc:
            if "straddl" not in str(exc) or block_size == BLOCK_SIZES[-1]:
                raise _read_error(source, exc, block_size) from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _header(source: _Source) -> list[str] | None:
    """The column names: from the first HEADER_BLOCK bytes when they are found there.

    Anything else that small block meets (a header longer than it, rows to skip past
    it, an empty file, an encoding error) is left to the full read, which decides.
    """
    try:
        names = _column_names(source, HEADER_BLOCK, probe=True)
    except (pa.ArrowInvalid, UnicodeError, OSError):
        names = None
    return names if names is not None else _with_block_sizes(source, _column_names)


def _column_names(source: _Source, block_size: int, probe: bool = False) -> list[str] | None:
    """The names, or None for a file with no header and no rows.

    Args:
        probe: a small block that may not hold the header or the rows to skip: it
            decides nothing about an empty file (None), the full read does.
    """
    header = source.fmt.header
    options = source.read_options(block_size, autogenerate_column_names=not header)
    try:
        with source.open() as stream:
            names = pacsv.open_csv(stream, options, source.parse_options()).schema.names
    except pa.ArrowInvalid as exc:
        if probe:
            return None
        if "Empty CSV file" in str(exc) or "Could not skip initial" in str(exc):
            # Blank, unless a quote opened in the header swallowed the whole file.
            line = _unclosed_quote_line(source)
            if line is not None:
                raise _unclosed_quote(source, line) from exc
            return None
        raise
    if not header:
        return [f"column_{i}" for i in range(1, len(names) + 1)]
    return _checked_names(source.raw, names)


def _checked_names(raw: RawFile, names: list[str]) -> list[str]:
    names = [name.strip() or f"column_{i}" for i, name in enumerate(names, 1)]
    reserved = [n for n in names if n.startswith(METADATA_PREFIX)]
    if reserved:
        raise TransformError(
            f"raw file {raw.name!r}: the header names column(s) "
            f"{', '.join(map(repr, reserved))}, but names starting with {METADATA_PREFIX!r} "
            "are reserved for CORE's own columns; rename them at the source or read the file "
            "with header: false"
        )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TransformError(
            f"raw file {raw.name!r}: the header names column(s) "
            f"{', '.join(map(repr, duplicates))} more than once; rename them at the source "
            "or read the file with header: false"
        )
    return names


def _read_rows(source: _Source, block_size: int) -> pa.Table:
    names = source.names or []
    options = source.read_options(block_size, column_names=names)
    options.skip_rows += int(source.fmt.header)
    convert = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()))
    with source.open() as stream:
        return pacsv.read_csv(stream, options, source.parse_options(), convert)


def _shown_encoding(fmt: CsvFormat) -> str:
    return "utf-8" if fmt.encoding == "utf8" else fmt.encoding


def _ascii_compatible(encoding: str) -> bool:
    try:
        return "a,\n".encode("utf-8" if encoding == "utf8" else encoding) == b"a,\n"
    except (LookupError, UnicodeError):
        return False


def _check_looks_like_text(source: _Source) -> None:
    """Refuse a file that is plainly not text in an ASCII-based encoding (the file's start).

    A UTF-16 or UTF-32 byte-order mark, or a NUL byte, would otherwise be read as
    garbage values or reported as a row with the wrong number of fields.

    Raises:
        TransformError: the file starts with such a mark, or holds a NUL byte, naming it.
    """
    if not _ascii_compatible(source.fmt.encoding):
        return
    try:
        with source.open() as stream:
            head = stream.read(SNIFF_BYTES)
    except OSError:  # a truncated or corrupt compressed file: reading it says so
        return
    name, encoding = source.raw.name, _shown_encoding(source.fmt)
    for mark, marked in BYTE_ORDER_MARKS:
        if head.startswith(mark):
            raise TransformError(
                f"raw file {name!r} starts with a {marked} byte-order mark, but the encoding "
                f"variable is {encoding!r}; set the encoding variable to {marked!r}; "
                "nothing was published"
            )
    nul = head.find(b"\x00")
    if nul >= 0:
        line = head.count(b"\n", 0, nul) + 1
        raise TransformError(
            f"raw file {name!r} line {line}: byte {nul} is NUL (0x00), which delimited "
            f"{encoding!r} text never holds: the file looks binary (or UTF-16 without a "
            "byte-order mark); check the file or set the encoding variable; nothing was published"
        )


def _check_quotes_closed(source: _Source, table: pa.Table) -> None:
    """Refuse a file that ends inside a quoted value (an unbalanced quote).

    Such a value runs to the end of the file, swallowing the rows after it. It can only
    be the last value read, so the file is read again (with Python's csv module) only
    when that value, or a column name, spans lines.

    Raises:
        TransformError: the file ends inside a quoted value, naming the line it opens on.
    """
    last = table.column(table.num_columns - 1) if table.num_rows and table.num_columns else None
    value = last[-1].as_py() if last is not None else None
    texts = [v for v in [*table.column_names, value] if isinstance(v, str)]
    if not any("\n" in v or "\r" in v for v in texts):
        return
    line = _unclosed_quote_line(source)
    if line is not None:
        raise _unclosed_quote(source, line)


def _unclosed_quote(source: _Source, line: int) -> TransformError:
    return TransformError(
        f"raw file {source.raw.name!r} line {line}: a quoted value opens there and is "
        "never closed, so it runs to the end of the file (and would swallow the rows "
        'after it); expected a closing quote (write a quote inside a value as ""); '
        "nothing was published"
    )


def _unclosed_quote_line(source: _Source) -> int | None:
    """The line where a quoted value still open at the end of the file begins, or None."""
    csv.field_size_limit(max(csv.field_size_limit(), BLOCK_SIZES[-1]))
    read = 0

    def lines(text: io.TextIOWrapper) -> Iterator[str]:
        nonlocal read
        for line in text:
            read += 1
            yield line
        # A record of its own, unless a quote is still open (the line before may lack its end).
        yield "\n"
        yield SENTINEL + "\n"

    with source.open() as stream:
        text = io.TextIOWrapper(
            stream, encoding=_shown_encoding(source.fmt), errors="replace", newline=""
        )
        feed = lines(text)
        for _ in range(source.fmt.skip_rows):
            next(feed, None)
        start, record = read + 1, None
        for record in csv.reader(feed, delimiter=source.fmt.delimiter):
            if record and record[-1].rstrip("\r\n").endswith(SENTINEL) and record != [SENTINEL]:
                return start
            start = read + 1
    return None


def _read_error(source: _Source, exc: Exception, block_size: int) -> Exception:
    """The TransformError that explains why a raw file could not be read."""
    name, text = source.raw.name, str(exc)
    if isinstance(exc, TransformError):
        return exc
    if isinstance(exc, UnicodeError) or "invalid UTF8" in text:
        encoding = _shown_encoding(source.fmt)
        return TransformError(
            f"raw file {name!r} is not valid {encoding!r} text ({text[:200]}); set the "
            "encoding variable to the file's encoding (e.g. 'latin-1' or 'cp1252')"
        )
    if "Expected" in text and "columns, got" in text:
        return _malformed_row(source, block_size)
    if "straddl" in text:
        text = f"a row is longer than {BLOCK_SIZES[-1] >> 20} MiB"
    return TransformError(f"raw file {name!r} cannot be read as delimited text: {text[:300]}")


def _malformed_row(source: _Source, block_size: int) -> TransformError:
    """The error naming the first row with the wrong number of fields, and its line."""
    where = f"raw file {source.raw.name!r}"
    row = _first_bad_row(source, block_size)
    if row is None:
        return TransformError(f"{where} has a row with the wrong number of fields")
    return TransformError(
        f"{where} line {row.number}: expected {row.expected_columns} fields separated by "
        f"{source.fmt.delimiter!r}, found {row.actual_columns}: {row.text[:ROW_TEXT]!r}; "
        "nothing was published"
    )


def _first_bad_row(source: _Source, block_size: int) -> pacsv.InvalidRow | None:
    """Read the file again on one thread, which numbers the rows, up to the first bad one."""
    bad: list[pacsv.InvalidRow] = []

    def remember(row: pacsv.InvalidRow) -> str:
        bad.append(row)
        return "error"

    # Only the first column is converted, so nothing but the field counts can fail.
    options = source.read_options(block_size, use_threads=False, autogenerate_column_names=True)
    convert = pacsv.ConvertOptions(include_columns=["f0"], column_types={"f0": pa.string()})
    try:
        with source.open() as stream:
            pacsv.read_csv(stream, options, source.parse_options(remember), convert)
    except (pa.ArrowInvalid, UnicodeError, OSError):
        pass
    return bad[0] if bad else None
