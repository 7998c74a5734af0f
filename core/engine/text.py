"""Text that came from a user (typed words, CSV labels, file names, link values), made safe for each
place it is shown or written: Markdown on the page, Plotly's HTML-like labels, a spreadsheet cell.
A visitor's text must read as itself there, never as a link, an image, a style or a formula."""

from __future__ import annotations

import html
import re

ECHO_LIMIT = 80
"""How many characters of a user's input a message repeats; the rest is counted, not shown."""

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_AUTOLINK = re.compile(r"(?i)(?<=:)(?=//)|(?<=www)(?=\.)|(?=@)")
"""Where GitHub-flavoured Markdown turns bare text into a link (http://…, www.…, name@host) even when
escaped; an invisible word joiner (U+2060) there keeps it text."""
WORD_JOINER = "\u2060"


def clipped(text: object, limit: int = ECHO_LIMIT) -> str:
    """At most `limit` characters of the text on one line, with how much was left out."""
    text = _CONTROL.sub(" ", str(text))
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def markdown_literal(text: object, limit: int | None = ECHO_LIMIT) -> str:
    """The text as Streamlit Markdown that shows exactly these characters: every character Markdown,
    HTML, LaTeX ($), colour and icon directives (:red[…], :material/…:) could read is escaped with a
    backslash, bare links are broken by a word joiner, control characters become spaces, and long
    text is clipped (`limit=None`: kept whole)."""
    text = clipped(text, limit) if limit is not None else _CONTROL.sub(" ", str(text))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _AUTOLINK.sub(WORD_JOINER, text))


def plotly_literal(text: object) -> str:
    """The text for a Plotly label (legend, hover, tick, title): Plotly reads a subset of HTML there
    (<a href>, <span style>, <br>), so <, > and & become entities, which it shows as themselves."""
    return html.escape(str(text), quote=False)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """A cell for a CSV a teacher may open in a spreadsheet: text that starts like a formula gets a
    leading apostrophe (OWASP's advice), so it stays text; numbers are left as numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def counted(count: int, noun: str) -> str:
    """'1 box', '3 boxes', '2 digits': a count and its noun, plural as English writes it."""
    return f"{count} {noun}" + ("" if count == 1 else "es" if noun.endswith(("s", "x", "sh", "ch")) else "s")
