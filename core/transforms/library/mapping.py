"""column_mapping and value_mapping: rename columns; map values onto a controlled vocabulary.

Both read one upstream dataset of the run (``input``) and publish ``dataset``.
value_mapping also publishes the rows it cannot map to ``{dataset}_rejects``
(same company, brand and state), for every run, so a re-run replaces them. The
rejects are a side output: committed after the dataset, only when the task
succeeds (a failed task leaves both as they were).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from core.errors import TransformationVariableTypeError, TransformError
from core.transforms.library import Builtin
from core.transforms.library._common import (
    DATASET,
    EXAMPLES,
    INPUT,
    RATE,
    SOURCE_FILE,
    blank,
    check_rejections,
    data_columns,
    examples,
    names_metadata,
    owner,
    require_columns,
    spec,
    string_map,
    variable,
)

if TYPE_CHECKING:
    from core.transforms.context import TransformContext

REJECTS_SUFFIX = "_rejects"
BRIDGE_COLUMNS = ("from", "to")

TEMPLATES = [
    Builtin(
        name="column_mapping",
        entrypoint="core.transforms.library.mapping:column_mapping",
        description=(
            "Rename and select columns per a mapping; by default (keep_unmapped false) only "
            "the mapped columns and the source file are kept. A mapped column missing from "
            "this run's input fails the task."
        ),
        tags=("mapping",),
        variables={
            "input": spec("string", "the upstream dataset", check=INPUT),
            "dataset": spec("string", "name of the output dataset", check=DATASET),
            "mapping": spec("json", "{source column: target column}", check="text_map"),
            "keep_unmapped": spec("bool", "also keep the columns the mapping does not name", False),
        },
    ),
    Builtin(
        name="value_mapping",
        entrypoint="core.transforms.library.mapping:value_mapping",
        description=(
            "Map a column onto a controlled vocabulary; unmapped rows go to {dataset}_rejects, "
            "committed only when the task succeeds. Fails above max_rejection_rate (default "
            "0.05); blanks map to null unless reject_blanks."
        ),
        state="master",
        tags=("mapping", "master"),
        variables={
            "input": spec("string", "the upstream dataset", check=INPUT),
            "dataset": spec("string", "name of the output dataset", check=DATASET),
            "column": spec("string", "the column whose values are mapped"),
            "mapping": spec(
                "json", "{raw value: controlled value}", required=False, check="text_map"
            ),
            "bridge_dataset": spec(
                "string",
                "instead of mapping: an upstream dataset with columns from, to",
                "",
                check=INPUT,
            ),
            "max_rejection_rate": spec(
                "float", "fail above this fraction of rejected rows (0 to 1)", 0.05, check=RATE
            ),
            "ignore_case": spec("bool", "match raw values regardless of case", False),
            "reject_blanks": spec("bool", "also reject rows whose value is empty", False),
        },
    ),
]


def column_mapping(ctx: TransformContext) -> None:
    """Publish the input's mapped columns, renamed (and the others when keep_unmapped).

    ``__metadata_source_file`` is kept when the input has it.

    Args:
        ctx: the transformation's context.

    Raises:
        TransformationVariableTypeError: the mapping is not an object, or maps two columns
            onto one name.
        TransformError: the input lacks mapped columns (all of them are named).
    """
    mapping = string_map(ctx, "mapping")
    _check_targets(ctx, mapping)
    name = str(variable(ctx, "input"))
    table = ctx.input(name, metadata=names_metadata(mapping))
    require_columns(ctx, table, mapping, f"input {name!r}")
    result = table.select(list(mapping)).rename_columns(list(mapping.values()))
    for column in _kept_columns(ctx, table, mapping):
        result = result.append_column(column, table[column])
    ctx.metadata["rows_out"] = result.num_rows
    ctx.publish(result)


def _check_targets(ctx: TransformContext, mapping: dict[str, str]) -> None:
    targets = list(mapping.values())
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        raise TransformationVariableTypeError(
            f"{owner(ctx)}: variable 'mapping' maps several columns onto "
            f"{', '.join(map(repr, twice))}; expected each target column once"
        )
    # The publish writes these anew: a column mapped onto one would vanish without a word.
    reserved = [
        f"{source!r} -> {target!r}"
        for source, target in mapping.items()
        if names_metadata([target])
    ]
    if reserved:
        raise TransformationVariableTypeError(
            f"{owner(ctx)}: variable 'mapping' maps {', '.join(reserved)}, but CORE writes "
            "that column itself with every publish (run id, timestamps, version, contract); "
            "map onto another name"
        )


def _kept_columns(ctx: TransformContext, table: pa.Table, mapping: dict[str, str]) -> list[str]:
    """The unmapped columns to keep: all of them (keep_unmapped), else the source file."""
    if not variable(ctx, "keep_unmapped", False):
        present = SOURCE_FILE in table.column_names and SOURCE_FILE not in mapping.values()
        return [SOURCE_FILE] if present else []
    kept = [c for c in data_columns(table) if c not in mapping]
    clashes = [c for c in kept if c in mapping.values()]
    if clashes:
        raise TransformError(
            f"{owner(ctx)}: mapping renames onto {', '.join(map(repr, clashes))}, which the "
            "input already has unmapped; map or rename those too, or set keep_unmapped: false"
        )
    return kept


def value_mapping(ctx: TransformContext) -> None:
    """Map ``column`` onto the vocabulary; publish unmapped rows to ``{dataset}_rejects``.

    Values are trimmed before matching. Rejected rows keep their raw value.
    Blank values map to null and are not rejected unless reject_blanks is set.

    Args:
        ctx: the transformation's context.

    Raises:
        TransformationVariableTypeError: neither or both of mapping and bridge_dataset are set.
        TransformError: the column is missing, the vocabulary maps a value two ways, or the
            rejected rows exceed max_rejection_rate (neither the dataset nor its rejects
            are published).
    """
    result = _mapped(ctx)  # the input is released before the publish: a lower peak
    ctx.metadata["rows_out"] = result.num_rows
    ctx.publish(result)


def _mapped(ctx: TransformContext) -> pa.Table:
    """The input with the column mapped, rejected rows staged and dropped."""
    column, name = str(variable(ctx, "column")), str(variable(ctx, "input"))
    table = ctx.input(name, metadata=names_metadata([column]))
    require_columns(ctx, table, [column], f"input {name!r}")
    keys, targets = vocabulary(ctx)
    mapped, bad = map_values(ctx, table[column], keys, targets)
    rejects = _stage_rejects(ctx, table.filter(bad))
    check_rejections(
        ctx, {column: rejects.num_rows}, table.num_rows, {column: examples(table[column], bad)}
    )
    good = pc.invert(bad)
    return table.filter(good).set_column(
        table.column_names.index(column), column, pc.filter(mapped, good)
    )


def vocabulary(ctx: TransformContext) -> tuple[pa.Array, pa.Array]:
    """The raw values and their controlled values, from mapping or bridge_dataset.

    Returns:
        Two aligned arrays (raw values trimmed, lower-cased with ignore_case).

    Raises:
        TransformationVariableTypeError: neither or both are set, or the mapping is not valid.
        TransformError: the bridge lacks from/to, or a raw value maps onto two values.
    """
    bridge = variable(ctx, "bridge_dataset") or None
    if (variable(ctx, "mapping") is None) == (bridge is None):
        raise TransformationVariableTypeError(
            f"{owner(ctx)}: set exactly one of the variables 'mapping' (a JSON object of raw "
            "value to controlled value) and 'bridge_dataset' (an upstream dataset with columns "
            "from and to)"
        )
    if bridge is None:
        mapping = string_map(ctx, "mapping")
        pairs = pa.table({"from": list(mapping), "to": list(mapping.values())})
    else:
        pairs = ctx.input(str(bridge), metadata=False)
        require_columns(ctx, pairs, BRIDGE_COLUMNS, f"bridge_dataset {bridge!r}")
        pairs = pa.table({c: pc.cast(pairs[c], pa.string()) for c in BRIDGE_COLUMNS})
    return _unambiguous(ctx, pairs)


def _unambiguous(ctx: TransformContext, pairs: pa.Table) -> tuple[pa.Array, pa.Array]:
    keys = pc.utf8_trim_whitespace(pairs["from"])
    if variable(ctx, "ignore_case", False):
        keys = pc.utf8_lower(keys)
    pairs = pa.table({"from": keys, "to": pairs["to"]}).group_by(["from", "to"]).aggregate([])
    counts = pairs.group_by("from").aggregate([("to", "count", pc.CountOptions("all"))])
    twice = counts.filter(pc.greater(counts["to_count"], 1))["from"]
    if len(twice):
        raise TransformError(
            f"{owner(ctx)}: the vocabulary maps raw value(s) "
            f"{', '.join(map(repr, twice.slice(0, EXAMPLES).to_pylist()))} onto more than one "
            "controlled value; keep one controlled value per raw value"
        )
    return pairs["from"].combine_chunks(), pairs["to"].combine_chunks()


def map_values(
    ctx: TransformContext, values: pa.ChunkedArray, keys: pa.Array, targets: pa.Array
) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """The controlled value of each raw value, and which rows are rejected.

    Args:
        ctx: the transformation's context (ignore_case, reject_blanks).
        values: the raw column.
        keys: the raw values of the vocabulary.
        targets: their controlled values.

    Returns:
        The mapped column (text) and a boolean mask of rejected rows.
    """
    text = pc.utf8_trim_whitespace(pc.cast(values, pa.string()))
    if variable(ctx, "ignore_case", False):
        text = pc.utf8_lower(text)
    index = pc.index_in(text, value_set=keys)
    mapped = pc.take(targets, index)
    unmatched = pc.is_null(index)
    if not variable(ctx, "reject_blanks", False):
        unmatched = pc.and_(unmatched, pc.invert(blank(values)))
    return mapped, unmatched


def _stage_rejects(ctx: TransformContext, rejects: pa.Table) -> pa.Table:
    """Stage this run's rejected rows (even none, so a re-run replaces earlier ones).

    They are committed after the dataset, and only when the task succeeds.
    """
    contract = ctx.output.sibling(dataset=f"{ctx.output.dataset}{REJECTS_SUFFIX}")
    ctx.publish_side(contract, rejects)
    ctx.metadata.update(rows_rejected=rejects.num_rows, rejects_dataset=contract.uri)
    if rejects.num_rows:
        ctx.logger.warning("%d rows rejected to %s", rejects.num_rows, contract.uri)
    return rejects
