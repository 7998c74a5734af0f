"""Other people's input handled safely: their text shows literally in Markdown (checked with a CommonMark
renderer) and Plotly labels, spreadsheet cells never start a formula, long input is clipped, an upload
is parsed once, and the server caps uploads and hides tracebacks."""

import csv
import html
import io
import re

import pytest
from markdown_it import MarkdownIt

from core.engine.export import metrics_csv
from core.engine.params import Control, config_from_query
from core.engine.text import ECHO_LIMIT, WORD_JOINER, clipped, markdown_literal, plotly_literal, spreadsheet_cell
from core.shared import pictures

HOSTILE = [
    "**[Log in again](http://evil.example/login)** ![t](http://evil.example/track.png)",
    "<img src=x onerror=alert(1)>",
    "**x**",
    "# heading",
    "- item",
    "1. first",
    "`code`",
    "$x^2$",
    ":red[red text] :material/warning:",
    "<a href='http://evil.example'>click</a>",
    "www.evil.example and http://evil.example and someone@evil.example",
    "back\\slash \\* star",
    "a | b | c",
    "&lt;b&gt; entity",
    "~~struck~~ _under_",
    '=HYPERLINK("http://evil.example")',
]


def rendered(markdown: str) -> str:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_literal_renders_as_exactly_the_text(text):
    page = rendered(markdown_literal(text, None))
    assert re.fullmatch(r"<p>.*</p>\n", page, flags=re.S), page  # one plain paragraph: no heading, list, code
    inner = page[3:-5]
    assert "<" not in inner.replace("&lt;", "")  # no tag at all: no link, image, emphasis
    assert html.unescape(inner).replace(WORD_JOINER, "") == text
    # Streamlit's own directives (colour, icons) and LaTeX start with ':' or '$', which are escaped too
    assert not re.search(r"(?<!\\)[:$\[]", markdown_literal(text))
    assert not re.search(r"(?i)://|www\\?\.|\w@", markdown_literal(text))  # GFM's bare links: no http://, www., a@b


def test_markdown_literal_clips_long_text_and_flattens_lines():
    shown = markdown_literal("x" * 10_000)
    assert len(shown) < ECHO_LIMIT + 40 and "10,000 characters" in shown
    assert "\n" not in markdown_literal("a\nb\r\nc") and clipped("a\nb") == "a b"
    assert markdown_literal("é ünïcødé ☃") == "é ünïcødé ☃"


def test_plotly_literal_escapes_html():
    assert plotly_literal("<a href='x'>y</a> & <span style='color:red'>z</span>") == (
        "&lt;a href='x'&gt;y&lt;/a&gt; &amp; &lt;span style='color:red'&gt;z&lt;/span&gt;"
    )
    assert plotly_literal("plain") == "plain"


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1"])
def test_spreadsheet_cells_never_start_a_formula(cell):
    assert spreadsheet_cell(cell) == "'" + cell
    assert spreadsheet_cell(-1.5) == -1.5 and spreadsheet_cell("cat") == "cat"


def test_the_metrics_csv_keeps_formula_names_as_text():
    text = metrics_csv([{"epoch": 1, "=cmd|' /C calc'!A0": -0.5, "loss": 0.25}])
    header, row = list(csv.reader(io.StringIO(text)))
    assert header == ["epoch", "'=cmd|' /C calc'!A0", "loss"] and row == ["1", "-0.5", "0.25"]


def test_a_link_value_is_echoed_clipped():
    control = Control("data", "Data", "select", "spiral", options=("spiral", "moons"))
    _, problems = config_from_query([control], {"data": "**[Log in](http://evil.example)**" + "x" * 10_000})
    assert len(problems) == 1 and len(problems[0]) < 300 and "characters" in problems[0]


def test_an_upload_is_read_once_whether_it_is_good_or_bad():
    from core.engine.csvinput import DataError
    from core.ui.uploads import read_once

    calls = []

    def reader(raw, name):
        calls.append(name)
        if raw == b"bad":
            raise DataError(f"'{name}' is bad")
        return len(raw)

    for _ in range(3):
        assert read_once("test", reader, b"bad", "b.csv") == (None, "'b.csv' is bad")
        assert read_once("test", reader, b"good", "g.csv") == (4, None)
    assert calls == ["b.csv", "g.csv"]


def test_the_server_takes_no_upload_larger_than_the_largest_lesson_limit_and_shows_no_tracebacks():
    import pathlib
    import tomllib

    from core.lessons.gan import gan2d
    from core.lessons.perceptron import playground

    config = tomllib.loads((pathlib.Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    largest = max(pictures.MAX_UPLOAD_BYTES, gan2d.MAX_CSV_BYTES, playground.MAX_UPLOAD_BYTES)
    assert config["server"]["maxUploadSize"] * 2**20 >= largest > (config["server"]["maxUploadSize"] - 1) * 2**20
    assert config["client"]["showErrorDetails"] == "none"


def test_a_browser_keeps_one_identity_across_page_loads():
    """Tornado re-masks its XSRF cookie on every load (three loads of one browser, as Chromium saw them)."""
    from core.ui.session import browser_token

    loads = [
        "2|a962f8fc|98eeb200baee222a5230111b32dbbd74|1796171268",
        "2|a7bc5b45|963011b9b43081935ceeb2a23c051ecd|1796171268",
        "2|0301221e|328d68e2108df8c8f853cbf998b86796|1796171268",
    ]
    assert {browser_token(cookie) for cookie in loads} == {"318c4afc138cdad6fb52e9e79bb94588"}
    assert browser_token("") is None and browser_token("2|zz|yy|1") is None and browser_token("3|a|b|c") is None
