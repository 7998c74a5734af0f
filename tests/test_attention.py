"""The attention lesson: every generated date pair is right, attention weights are distributions,
the translator reaches 95 % exact match, and typed dates are checked."""

import datetime as dt

import numpy as np
import pytest
from dateutil import parser

from core import attention
from core.jobs import JobRegistry, JobStatus


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_generated_pair_is_a_correct_translation(seed):
    triples = attention.make_dates(3000, seed)
    assert {pattern for _, _, pattern in triples} == set(attention.FORMATS)
    for human, iso, pattern in triples:
        read = parser.parse(human.replace(" of ", " "), dayfirst=True).date()  # an independent reading
        assert read.isoformat() == iso, (human, iso, pattern)
        assert attention.FIRST_DAY <= read <= attention.LAST_DAY and len(human) <= attention.INPUT_LENGTH


def test_late_december_keeps_its_calendar_year():
    """CLDR's 'Y' is the week-based year: 31 December 2024 is in week 1 of 2025. The patterns use 'y'."""
    from babel.dates import format_date

    day = dt.date(2024, 12, 31)
    assert format_date(day, "d MMM Y", locale="en").endswith("2025")  # the trap
    for pattern in attention.FORMATS:
        assert "2024" in attention.human_date(day, pattern), pattern
    assert attention.human_date(dt.date(2009, 6, 25), "ordinal") == "25th of june 2009"
    assert attention.human_date(dt.date(2011, 3, 12), "ordinal").startswith("12th")
    assert attention.human_date(dt.date(2011, 3, 22), "ordinal").startswith("22nd")


def test_typed_dates_are_checked_with_reasons():
    assert attention.encode_input(" Tuesday 10 March 2015 ").shape == (attention.INPUT_LENGTH,)
    for text, reason in (("", "Type a date"), ("x" * 31, "at most 30"), ("10 mäy 2015", "never saw 'ä'"),
                         ("2015-03-10", "never saw '-'")):
        with pytest.raises(ValueError, match=reason):
            attention.encode_input(text)
    assert attention.check_translation("25th of june 2009", "2009-06-25") is None
    assert "2009-06-25" in attention.check_translation("25th of june 2009", "2009-06-26")
    assert "not a real date" in attention.check_translation("31 feb 2001", "2001-02-31")


@pytest.mark.parametrize("kind", attention.ATTENTIONS)
def test_the_translator_reaches_95_percent_and_its_attention_is_a_distribution(kind):
    config = {**{c.key: c.default for c in attention.DATE_CONTROLS}, "attention": kind, "epochs": 8, "speed": "full speed"}
    job = JobRegistry(max_running=1).submit(attention.dates_task(config), "test")
    assert job.wait(600) and job.status == JobStatus.FINISHED, job.view().message
    view = job.view()
    assert view.history[-1]["val_exact_match"] >= 0.95
    shot = view.snapshot
    assert shot["attention"].shape == (len(attention.EXAMPLE_FORMATS), attention.OUTPUT_LENGTH, attention.INPUT_LENGTH)
    np.testing.assert_allclose(shot["attention"].sum(axis=-1), 1, rtol=1e-5)
    assert [pattern for _, _, pattern in shot["examples"]] == list(attention.EXAMPLE_FORMATS)
    translator = attention.Translator(kind, job.result["weights"])
    answer, weights = translator.translate("tuesday 10 march 2015")
    assert answer == "2015-03-10" and weights.shape == (10, len("tuesday 10 march 2015"))
    assert weights.sum(axis=1).max() <= 1 + 1e-5
