"""Transforms for the fault tests (entrypoints ``tests.reliability.fault_transforms:…``).

They run in worker processes (``corebot run``), so the tests steer them through
environment variables:

- ``FAULT_STALL_MARKER``: :func:`bulk` publishes in small files and, part way through
  the stream it hands to the Delta writer, creates this file and stalls (to be killed).
- ``FAULT_RENDEZVOUS``: :func:`rendezvous` leaves ``started-RUN_ID`` in this folder and
  waits until ``FAULT_PARTIES`` runs have, so that two runs publish at the same time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

# bulk, stalling: batches of this many rows, written to files of about this many bytes,
# stalling after this many batches (so that some data files are on disk, none committed).
STALL_BATCH_ROWS = 10_000
STALL_FILE_BYTES = 64 * 1024
STALL_AFTER_BATCHES = 8
STALL_SECONDS = 120.0
RENDEZVOUS_SECONDS = 60.0


def numbered(rows: int) -> pa.Table:
    """``rows`` rows: ``n`` from 0 and a text label, so that each row can be told apart."""
    return pa.table(
        {
            "n": pa.array(range(rows), pa.int64()),
            "label": pa.array([f"row-{i:08d}" for i in range(rows)], pa.string()),
        }
    )


def incompressible(rows: int) -> pa.Table:
    """Rows of random text (parquet cannot shrink it): about 200 bytes each."""
    noise = [os.urandom(100).hex() for _ in range(rows)]
    return pa.table({"n": pa.array(range(rows), pa.int64()), "noise": pa.array(noise)})


def bulk(ctx: Any) -> None:
    """Publish ``rows`` numbered rows (stalling mid-publish when FAULT_STALL_MARKER is set)."""
    marker = os.environ.get("FAULT_STALL_MARKER")
    if marker:
        _stall_mid_publish(Path(marker))
    ctx.publish(numbered(ctx.variables["rows"]))


def copied(ctx: Any) -> None:
    """Publish this run's rows of the upstream dataset named by the variable ``source``."""
    ctx.publish(ctx.input(ctx.variables["source"]))


def rendezvous(ctx: Any) -> None:
    """Publish ``rows`` numbered rows once FAULT_PARTIES runs have all reached this point."""
    folder = Path(os.environ["FAULT_RENDEZVOUS"])
    (folder / f"started-{ctx.run_id}").touch()
    parties = int(os.environ.get("FAULT_PARTIES", "2"))
    deadline = time.monotonic() + RENDEZVOUS_SECONDS
    while len(list(folder.glob("started-*"))) < parties and time.monotonic() < deadline:
        time.sleep(0.02)
    ctx.publish(numbered(ctx.variables["rows"]))


def _stall_mid_publish(marker: Path) -> None:
    """Make DatasetContract.publish write small files and stall part way through its stream.

    The stall is in the stream of batches both of publish's writers read (its own for a
    local table, delta-rs's otherwise); delta-rs's is also told to write small files, as
    it otherwise buffers a whole file before writing it.
    """
    import core.lake.dataset_contract as dataset_contract

    stream = dataset_contract.DatasetContract._stream
    write = dataset_contract.write_deltalake

    def stalling_stream(self: Any, *args: Any, **kwargs: Any) -> pa.RecordBatchReader:
        data = stream(self, *args, **kwargs)

        def batches() -> Any:
            for index, batch in enumerate(data):
                if index == STALL_AFTER_BATCHES:
                    marker.touch()
                    time.sleep(STALL_SECONDS)
                yield batch

        return pa.RecordBatchReader.from_batches(data.schema, batches())

    def small_files_write(uri: str, data: pa.RecordBatchReader, **options: Any) -> None:
        write(uri, data, target_file_size=STALL_FILE_BYTES, **options)

    dataset_contract.DatasetContract._stream = stalling_stream  # type: ignore[method-assign]
    dataset_contract.write_deltalake = small_files_write
    dataset_contract.STREAM_BATCH_ROWS = STALL_BATCH_ROWS
