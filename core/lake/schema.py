"""Whether new data fits a Delta table's schema, checked before anything is written.

Delta stores fewer physical types than Arrow (one string type, timestamps in
microseconds), so types are compared by *kind*: string and large_string are
the same column, ``timestamp[ns]`` fits ``timestamp[us]``, and an integer or
float column may be written into a wider one of the same kind. Anything else
(string into int, int into date, ...) is a conflict.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.types as pat

from core.errors import SchemaConflictError


def type_kind(data_type: pa.DataType) -> tuple[str, object]:
    """A comparable (kind, detail) for an Arrow type, ignoring Delta-irrelevant detail.

    Args:
        data_type: an Arrow type.

    Returns:
        E.g. ("int", 64), ("string", None), ("timestamp", "UTC").
    """
    if pat.is_string(data_type) or pat.is_large_string(data_type) or pat.is_string_view(data_type):
        return ("string", None)
    if pat.is_binary(data_type) or pat.is_large_binary(data_type) or pat.is_binary_view(data_type):
        return ("binary", None)
    if pat.is_integer(data_type):
        return ("int", data_type.bit_width)
    if pat.is_floating(data_type):
        return ("float", data_type.bit_width)
    if pat.is_timestamp(data_type):
        return ("timestamp", data_type.tz is not None)
    if pat.is_dictionary(data_type):
        return type_kind(data_type.value_type)
    return (str(data_type), None)


def compatible(existing: pa.DataType, new: pa.DataType) -> bool:
    """True when values of ``new`` can be stored in a column of type ``existing``."""
    if pat.is_null(new):
        return True
    old_kind, old_detail = type_kind(existing)
    new_kind, new_detail = type_kind(new)
    if old_kind != new_kind:
        return False
    if old_kind in ("int", "float"):
        return int(new_detail) <= int(old_detail)  # type: ignore[call-overload]
    return old_detail == new_detail


def check_compatible(table_name: str, existing: pa.Schema, new: pa.Schema) -> None:
    """Refuse data whose columns would change a type of the table.

    Args:
        table_name: how the message names the table.
        existing: the table's schema.
        new: the schema of the data to write.

    Raises:
        SchemaConflictError: the first column whose type conflicts, with both types.
    """
    for field in new:
        index = existing.get_field_index(field.name)
        if index < 0:
            continue
        old = existing.field(index).type
        if not compatible(old, field.type):
            raise SchemaConflictError(
                f"{table_name}: column {field.name!r} is {old} in the table but {field.type} "
                "in the data to publish; nothing was written. Cast the column to "
                f"{old} or publish under a new column name"
            )
