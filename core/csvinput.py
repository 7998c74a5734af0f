"""Reading a student's CSV upload: the checks every lesson's upload shares (empty, too large, not
text, not a table), each answered with a sentence the student can act on."""

from __future__ import annotations

import csv
import hashlib
import io

from core.text import clipped


class DataError(ValueError):
    """A data set that cannot be trained on, with a message meant for the student."""


def read_table(raw: bytes, max_bytes: int, header: int | None = 0):
    """The upload as a table of text cells (pandas, every column as str, "nan" and "" kept as typed),
    without columns that hold nothing."""
    import pandas as pd

    if not raw.strip():
        raise DataError("The file is empty. It needs one line per point.")
    if len(raw) > max_bytes:
        raise DataError(f"The file is {len(raw) / 1e6:.1f} MB; this lesson takes files up to {max_bytes / 1e6:.0f} MB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("This is not a CSV text file (it is not readable as text). Save your table as CSV and try again.") from None
    if "\x00" in text:
        raise DataError("This is not a CSV text file (it contains binary data). Save your table as CSV and try again.")
    try:
        table = pd.read_csv(io.StringIO(text), sep=None, engine="python", dtype=str, skipinitialspace=True, header=header,
                            keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as error:
        raise DataError(f"This does not read as a CSV table: {clipped(str(error).splitlines()[0], 200)}") from None
    table = table.fillna("")  # a line with fewer cells than the header
    blank = table.apply(lambda column: column.str.strip().eq("").all())
    return table.loc[:, ~blank]  # a column with nothing in it is an artefact of the separator


def digest(raw: bytes) -> str:
    """A short fingerprint of an upload: part of a run's config, so that another file is another run."""
    return hashlib.sha1(raw).hexdigest()[:12]
