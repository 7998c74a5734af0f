"""The attention lesson: every generated date pair is right, attention weights are distributions,
the translator reaches 95 % exact match, and typed dates are checked."""

import datetime as dt

import numpy as np
import pytest
from dateutil import parser

from core.engine.jobs import JobRegistry, JobStatus
from core.lessons.attention import attention


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
    for text, reason in (
        ("", "Type a date"),
        ("x" * 31, "at most 30"),
        ("10 mäy 2015", "never saw 'ä'"),
        ("2015-03-10", "never saw '-'"),
    ):
        with pytest.raises(ValueError, match=reason):
            attention.encode_input(text)
    assert attention.check_translation("25th of june 2009", "2009-06-25") is None
    assert "2009-06-25" in attention.check_translation("25th of june 2009", "2009-06-26")
    assert "not a real date" in attention.check_translation("31 feb 2001", "2001-02-31")
    assert "cannot read your text" in attention.check_translation("hello world", "2007-07-07")  # never "right"


def test_the_format_picker_shows_an_example_date_in_each_format():
    shown = [attention.format_example(pattern) for pattern in attention.EXAMPLE_FORMATS]
    assert shown[:3] == ["tuesday 10 march 2015", "10th of march 2015", "10/03/2015"]
    assert len(set(shown)) == len(shown) and not any(code in " ".join(shown) for code in ("EEEE", "MMM", "dd/"))


@pytest.mark.parametrize("kind", attention.ATTENTIONS)
def test_the_translator_reaches_95_percent_and_its_attention_is_a_distribution(kind):
    config = {
        **{c.key: c.default for c in attention.DATE_CONTROLS},
        "attention": kind,
        "epochs": 8,
        "speed": "full speed",
    }
    job = JobRegistry(max_running=1).submit(attention.dates_task(config), "test")
    assert job.wait(600) and job.status == JobStatus.FINISHED, job.view().message
    view = job.view()
    assert view.history[-1]["val_exact_match"] >= 0.95
    shot = view.snapshot
    assert shot.attention.shape == (len(attention.EXAMPLE_FORMATS), attention.OUTPUT_LENGTH, attention.INPUT_LENGTH)
    np.testing.assert_allclose(shot.attention.sum(axis=-1), 1, rtol=1e-5)
    assert [pattern for _, _, pattern in shot.examples] == list(attention.EXAMPLE_FORMATS)
    translator = attention.Translator(kind, job.result["weights"])
    answer, weights = translator.translate("tuesday 10 march 2015")
    assert answer == "2015-03-10" and weights.shape == (10, len("tuesday 10 march 2015"))
    assert weights.sum(axis=1).max() <= 1 + 1e-5


def _toy(**changes):
    from core.lessons.attention import selfattention

    config = {**{c.key: c.default for c in selfattention.TRANSFORMER_CONTROLS}, "speed": "full speed", **changes}
    job = JobRegistry(max_running=1).submit(selfattention.transformer_task(config), "test")
    assert job.wait(300) and job.status == JobStatus.FINISHED, job.view().message
    return job.view()


@pytest.mark.parametrize("key_size", [16, 4, 9])
def test_the_step_by_step_softmax_is_the_layers_own_attention(key_size):
    from core.lessons.attention import selfattention

    for causal in (False, True):
        model, probe = selfattention.build_models(6, causal, 3, key_size)
        x, _ = selfattention.make_strings("reverse", 6, 1, n=4)
        embedded, weights = (np.asarray(a) for a in probe.predict_on_batch(x))
        for head in range(selfattention.HEADS):
            steps = selfattention.attention_steps(model, embedded[2], head, causal)
            np.testing.assert_allclose(steps["softmax"], weights[2, head], atol=1e-5)
            np.testing.assert_allclose(steps["÷ √d"], steps["Q·Kᵀ"] / np.sqrt(key_size))
            assert steps["Q"].shape == (6, key_size)
            assert np.isneginf(steps["masked"][0, 1]) == causal and np.allclose(steps["softmax"].sum(axis=1), 1)


def test_the_toy_transformer_reverses_by_looking_at_the_mirror():
    from core.lessons.attention import selfattention

    view = _toy(epochs=15)
    assert view.history[-1]["val_accuracy"] >= 0.95
    assert selfattention.mirror_share(view.snapshot.weights) >= 0.5
    np.testing.assert_array_equal(view.snapshot.output, view.snapshot.example[::-1])


def test_a_causal_mask_hides_the_first_halfs_mirror():
    view = _toy(epochs=10, causal=True)
    assert 0.45 <= view.history[-1]["val_accuracy"] <= 0.65  # half the digits, plus a 10 % guess for the rest


def test_with_and_without_attention_race_on_the_same_dates():
    config = {c.key: c.default for c in attention.COMPARE_CONTROLS}
    config["epochs"] = 2
    job = JobRegistry(max_running=1).submit(attention.compare_task(config), "test")
    assert job.wait(300) and job.status == JobStatus.FINISHED, job.view().message
    view = job.view()
    shot = view.snapshot
    assert set(shot.by_length) == {attention.WITH, attention.WITHOUT} and sum(shot.counts) == attention.HELD_OUT
    assert len(view.history) == 2 and all(f"{name}: exact_match" in view.history[-1] for name in shot.by_length)
    lines = attention.compare_findings(view.history)
    assert lines[0].startswith("**With attention**") and lines[1].startswith("**Without attention**")
