"""What a student can take away from a run: metrics as CSV (figures export as PNG from their toolbar)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from core.engine.text import spreadsheet_cell


def metrics_csv(history: Sequence[Mapping[str, float]]) -> str:
    """The metric history as CSV text, epoch first, the other columns in alphabetical order. A name or
    cell that would start a spreadsheet formula is kept as text."""
    columns = ["epoch"] + sorted({k for row in history for k in row} - {"epoch"})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([spreadsheet_cell(name) for name in columns])
    writer.writerows([spreadsheet_cell(row.get(name, "")) for name in columns] for row in history)
    return out.getvalue()
