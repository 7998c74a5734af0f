"""Reading a student's CSV upload: the checks every lesson's upload shares (empty, too large, not
text, not a table), each answered with a sentence the student can act on."""

from __future__ import annotations

import csv
import hashlib
import io

from core.engine.text import clipped


class DataError(ValueError):
    """A data set that cannot be trained on, with a message meant for the student."""


MAX_COLUMNS = 100
"""Every lesson's table has 2–3 columns; a header far wider is refused before pandas parses it."""
MAX_LINE_CHARS = 10_000
SEPARATORS = ",;\t|"


def decode(raw: bytes) -> str:
    """The upload as text: UTF-8 (with or without a byte-order mark), or UTF-16 with its mark (what a
    spreadsheet's "Unicode text" export writes)."""
    try:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            return raw.decode("utf-16")
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(
            "This is not a CSV text file (it is not readable as text). Save your table as CSV and try again."
        ) from None


def separator(text: str) -> str:
    """The column separator, guessed from the first lines (a comma when nothing else fits)."""
    sample = "\n".join(text[:20_000].splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=SEPARATORS).delimiter
    except csv.Error:
        return ","


def read_table(raw: bytes, max_bytes: int, header: int | None = 0):
    """The upload as a table of text cells (pandas, every column as str, "nan" and "" kept as typed),
    without columns that hold nothing. Its shape is checked before pandas parses it (line length,
    column count), so a small file cannot cost the server minutes."""
    import pandas as pd

    if not raw.strip():
        raise DataError("The file is empty. It needs one line per point.")
    if len(raw) > max_bytes:
        raise DataError(f"The file is {len(raw) / 1e6:.1f} MB; this lesson takes files up to {max_bytes / 1e6:.0f} MB.")
    text = decode(raw)
    if "\x00" in text:
        raise DataError("This is not a CSV text file (it contains binary data). Save your table as CSV and try again.")
    sep = separator(text)
    columns = text.lstrip().split("\n", 1)[0].count(sep) + 1
    if columns > MAX_COLUMNS:
        raise DataError(
            f"The file has {columns:,} columns; this lesson reads 2 or 3 (at most {MAX_COLUMNS} are "
            "accepted). Save just the columns it needs as CSV."
        )
    longest = max(map(len, text.splitlines()), default=0)
    if longest > MAX_LINE_CHARS:
        raise DataError(
            f"A line of the file is {longest:,} characters long; a table for this lesson has lines of a "
            f"few dozen. Save just the columns it needs as CSV."
        )
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            engine="c",
            dtype=str,
            skipinitialspace=True,
            header=header,
            keep_default_na=False,
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as error:
        raise DataError(f"This does not read as a CSV table: {clipped(str(error).splitlines()[0], 200)}") from None
    table = table.fillna("")  # a line with fewer cells than the header
    blank = table.apply(lambda column: column.str.strip().eq("").all())
    return table.loc[:, ~blank]  # a column with nothing in it is an artefact of the separator


def digest(raw: bytes) -> str:
    """A short fingerprint of an upload: part of a run's config, so that another file is another run."""
    return hashlib.sha1(raw).hexdigest()[:12]
