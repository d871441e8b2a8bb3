"""A realistic, fictional source for the demo: specialty-pharmacy patient-status files.

Two pharmacies report status changes of Zentrix patients (Acme Pharmaceuticals):
pharmacy A as pipe-delimited ``PatientID|StatusCode|StatusDate|Qty``, pharmacy B
as comma-delimited ``pt_id,status,status_dt,units``. Each patient has a short
journey (pending → active → shipped, sometimes cancelled); about 1% of the dates
are malformed and about 1% of the status codes are unknown, as in real feeds.
Everything is vectorised with NumPy and written with pyarrow; a seed makes it
reproducible.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

STATUS_CODES = np.array(["PND", "ACT", "SHP", "CAN"])
UNKNOWN_CODES = np.array(["XXX", "HLD"])
START = np.datetime64("2026-01-01")
PHARMACIES = {
    "pharmacy_a": {"columns": ("PatientID", "StatusCode", "StatusDate", "Qty"), "delimiter": "|"},
    "pharmacy_b": {"columns": ("pt_id", "status", "status_dt", "units"), "delimiter": ","},
}


@dataclass(frozen=True)
class SourceFiles:
    """The generated files and how many rows each holds."""

    directory: Path
    files: dict[str, Path]
    rows: dict[str, int]


def generate(
    directory: Path, rows: int = 100_000, seed: int = 7, day: dt.date | None = None
) -> SourceFiles:
    """Write both pharmacies' files (about ``rows`` status rows in all) into ``directory``.

    Args:
        directory: the landing directory (created; earlier files of the same day replaced).
        rows: the total number of status rows, split between the pharmacies.
        seed: the random seed (the same seed gives the same files).
        day: the file date in the names (today when omitted).

    Returns:
        The files written, by pharmacy.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    stamp = (day or dt.date.today()).strftime("%Y%m%d")
    files, counts = {}, {}
    for index, (pharmacy, layout) in enumerate(PHARMACIES.items()):
        table = _statuses(rng, rows // 2 + (rows % 2 if index == 0 else 0), pharmacy[-1].upper())
        table = table.rename_columns(list(layout["columns"]))
        path = directory / f"{pharmacy}_status_{stamp}.csv"
        options = pacsv.WriteOptions(delimiter=layout["delimiter"], quoting_style="none")
        pacsv.write_csv(table, path, options)
        files[pharmacy], counts[pharmacy] = path, table.num_rows
    return SourceFiles(directory, files, counts)


def _statuses(rng: np.random.Generator, rows: int, prefix: str) -> pa.Table:
    """``rows`` status rows: patients with 1 to 4 steps each, in time order."""
    steps = rng.integers(1, 5, size=max(1, rows // 2))
    steps = steps[: np.searchsorted(np.cumsum(steps), rows, side="right") + 1]
    patient = np.repeat(np.arange(steps.size), steps)[:rows]
    step = np.arange(patient.size) - np.repeat(np.cumsum(steps) - steps, steps)[:rows]
    first_day = rng.integers(0, 300, size=steps.size)[patient]
    gaps = np.where(step == 0, 0, rng.integers(1, 20, size=patient.size))
    elapsed = np.cumsum(gaps)
    elapsed -= elapsed[np.flatnonzero(step == 0)][patient]  # days since the patient's first
    day = START + (first_day + elapsed).astype("timedelta64[D]")
    code = STATUS_CODES[np.minimum(step, 2)]
    code = np.where((step == 2) & (rng.random(patient.size) < 0.15), "CAN", code)
    code = np.where(rng.random(patient.size) < 0.01, rng.choice(UNKNOWN_CODES, patient.size), code)
    dates = np.datetime_as_string(day, unit="D").astype(object)
    bad = rng.random(patient.size) < 0.01
    if bad.any():  # np.char.replace refuses an empty array (a source of a few rows)
        dates[bad] = np.char.replace(dates[bad].astype(str), "-", "/")  # 2026/03/04: malformed
    ids = np.char.add(prefix, np.char.zfill(patient.astype(str), 7))
    return pa.table(
        {
            "patient": ids,
            "code": code,
            "date": dates.astype(str),
            "quantity": rng.integers(1, 4, size=patient.size).astype(str),
        }
    )
