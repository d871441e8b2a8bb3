"""A dataset's history: its Delta commits, newest first, and going back to an earlier one.

Every publish of a dataset is a commit, a new version of its Delta table; the versions
before stay readable (time travel) until they are vacuumed. ``DatasetContract.history``
and ``DatasetContract.restore`` are these functions.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deltalake.exceptions import DeltaError

from core.errors import ContractError, LakeError
from core.lake.arguments import is_whole_number
from core.lake.storage import describe_storage_error

if TYPE_CHECKING:
    from core.lake.dataset_contract import DatasetContract


@dataclass(frozen=True)
class RestoreSummary:
    """What one restore did.

    Attributes:
        restored: the version whose content is current again.
        version: the table version the restore commit created.
        files_removed: data files the restore took out of the table.
        files_restored: data files the restore brought back.
    """

    restored: int
    version: int
    files_removed: int
    files_restored: int


def history(contract: DatasetContract, limit: int | None = None) -> list[dict[str, Any]]:
    """The table's commits, newest first: version, timestamp, operation, predicate, rows.

    Args:
        limit: at most this many commits (all that are still in the log when None).
    """
    latest = contract.delta_table().version()
    oldest = -1 if limit is None else max(-1, latest - limit)
    entries = []
    for version in range(latest, oldest, -1):
        info = commit_info(contract, version)
        if info is None:  # older commits were cleaned up after a checkpoint
            break
        entries.append(_entry(version, info))
    return entries


def commit_info(contract: DatasetContract, version: int) -> dict[str, Any] | None:
    """The ``commitInfo`` of one version (``{}`` when it has none); None once cleaned up."""
    # Read the commit file directly: DeltaTable.history holds the GIL during I/O,
    # which deadlocks against an S3 endpoint served from this process (moto).
    path = f"{contract.path}/_delta_log/{version:020d}.json"
    try:
        with contract.filesystem.open_input_stream(path) as reader:
            lines = reader.read().decode("utf-8").splitlines()
    except FileNotFoundError:
        return None
    actions = (json.loads(line) for line in lines if line.strip())
    return next((a["commitInfo"] for a in actions if "commitInfo" in a), {})


def restore(contract: DatasetContract, version: int) -> RestoreSummary:
    """Make an earlier version's content current again, in one new commit.

    Nothing is deleted: the versions in between stay readable (time travel), and a
    restore can itself be undone by restoring the version before it.

    Args:
        version: the table version to go back to (``core lake show`` lists them).

    Returns:
        A RestoreSummary (the new version, files removed and restored).

    Raises:
        ContractError: the version is not an earlier version of the table.
        ContractNotFoundError: the table does not exist.
        LakeError: the restore could not be committed.
    """
    table = contract.delta_table()
    latest = table.version()
    if not is_whole_number(version) or version >= latest:
        raise ContractError(
            f"{contract!r}: cannot restore version {version!r}: expected an earlier version, "
            f"0 to {latest - 1} (the current one is {latest}); `core lake show` lists them"
        )
    try:
        metrics = table.restore(version)
    except DeltaError as exc:
        raise LakeError(
            f"{contract!r}: restoring version {version} failed: {describe_storage_error(exc)}"
        ) from exc
    return RestoreSummary(
        version,
        contract.delta_table().version(),
        int(metrics.get("numRemovedFile", 0)),
        int(metrics.get("numRestoredFile", 0)),
    )


def _entry(version: int, info: dict[str, Any]) -> dict[str, Any]:
    timestamp = info.get("timestamp")
    return {
        "version": version,
        "timestamp": dt.datetime.fromtimestamp(timestamp / 1000, dt.UTC) if timestamp else None,
        "operation": info.get("operation"),
        "predicate": info.get("operationParameters", {}).get("predicate"),
        "rows": info.get("operationMetrics", {}).get("num_added_rows"),
    }
