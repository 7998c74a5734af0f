"""What a student can take away from a run: metrics as CSV (figures export as PNG from their toolbar)."""

from __future__ import annotations

import csv
import io
from typing import Mapping, Sequence


def metrics_csv(history: Sequence[Mapping[str, float]]) -> str:
    """The metric history as CSV text, epoch first, the other columns in alphabetical order."""
    columns = ["epoch"] + sorted({k for row in history for k in row} - {"epoch"})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    writer.writerows(history)
    return out.getvalue()
