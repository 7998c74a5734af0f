"""The text generator: the texts read as stated (fortune's quotes with their speakers, a clear message where Debian's
fortunes is missing), windows shifted by one, the unigram baseline recomputed, the step model writing exactly what
the window model predicts, temperature towards 0 as the argmax, probabilities that sum to 1, the run's rows against
NumPy, a run beating the unigram model within a few epochs, clear messages for starts it cannot read, the page."""

import math
import pathlib
from collections import Counter

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.lessons.sequence_models import generation
from tests.helpers import chart_text, shown, train_runs

HOME = pathlib.Path(__file__).resolve().parents[1] / "Home.py"
FORTUNES = """A woman should have compassion.
\t\t-- Kirk, "Catspaw", stardate 3018.2
%
Ahead warp factor one, Mr. Sulu.
%
After a time, you may find that "having" is not so pleasing a thing,
after all, as "wanting."
\t\t-- Spock, "Amok Time", stardate 3372.7
%
"""


def test_fortunes_quotes_keep_their_speaker_on_a_line_of_its_own():
    assert generation.star_trek_quotes(FORTUNES) == [
        'A woman should have compassion.\n-- Kirk, "Catspaw", stardate 3018.2',
        "Ahead warp factor one, Mr. Sulu.",
        'After a time, you may find that "having" is not so pleasing a thing, after all, as "wanting."\n'
        '-- Spock, "Amok Time", stardate 3372.7',
    ]
    if generation.STAR_TREK_FILE.is_file():  # Debian's fortunes, installed by .ci/run
        quotes = generation.star_trek_quotes(generation.STAR_TREK_FILE.read_text(encoding="utf-8"))
        assert len(quotes) == 227 and all(q and not q.startswith("%") and "\n%\n" not in q for q in quotes)
        assert sum("\n-- " in q for q in quotes) > 200
        assert generation.STAR_TREK in generation.available_texts()


def test_a_missing_fortunes_package_gets_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setattr(generation, "STAR_TREK_FILE", tmp_path / "startrek")
    generation.read_text.cache_clear()
    try:
        with pytest.raises(generation.MissingText, match="apt-get install fortunes"):
            generation.read_text(generation.STAR_TREK)
        assert generation.available_texts() == (generation.NEWS,)
    finally:
        generation.read_text.cache_clear()


def test_windows_predict_the_next_character_and_the_unigram_baseline_is_recomputed():
    text = generation.character_text(generation.NEWS)
    raw = generation.read_text(generation.NEWS)
    assert "".join(text.characters[i] for i in text.x_train[0]) == raw[: generation.WINDOW]
    np.testing.assert_array_equal(text.x_train[:, 1:], text.y_train[:, :-1])
    assert text.x_train[1, 0] == text.y_train[0, -1]
    split = int(len(raw) * (1 - generation.HELD_OUT))
    counts = Counter(raw[:split])
    total = split + len(text.characters)
    cross_entropy = -np.mean([math.log((counts[ch] + 1) / total) for ch in raw[split:]])
    assert text.unigram_perplexity == pytest.approx(math.exp(cross_entropy), rel=1e-9)


@pytest.fixture(scope="module")
def trained():
    text = generation.character_text(generation.NEWS)
    loop = generation.GeneratorLoop(text, 64, 0)
    rows = np.concatenate([loop.advance(1, np.float32(0.005)) for _ in range(3)])
    return text, loop, rows


def test_a_short_run_beats_the_unigram_model_and_its_rows_agree_with_numpy(trained):
    """Measured (64 units, seed 0): held-out perplexity 21.6 for the unigram model, 11.6 → 8.8 over 3 epochs."""
    text, loop, rows = trained
    assert rows[-1, 3] < rows[0, 3] and rows[-1, 3] < 0.6 * text.unigram_perplexity
    np.testing.assert_allclose(rows[:, 2:], np.exp(rows[:, :2]), rtol=1e-5)
    logits, _ = loop.model.stateless_call(loop.state[0], loop.state[1], text.x_test)
    logits = np.asarray(logits, "float64")
    log_p = (
        logits
        - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True))
        - logits.max(-1, keepdims=True)
    )
    held = -np.mean(np.take_along_axis(log_p, text.y_test[..., None], -1))
    assert rows[-1, 1] == pytest.approx(held, rel=1e-4)


def test_the_step_model_continues_exactly_as_the_window_model_predicts(trained):
    text, loop, _ = trained
    primer = "The Prime Minister said"
    ids = generation.encode_primer(primer, text)
    window = np.zeros((1, generation.WINDOW), "int32")
    window[0, : len(ids)] = ids
    logits, _ = loop.model.stateless_call(loop.state[0], loop.state[1], window)
    expected = np.exp(np.asarray(logits[0, len(ids) - 1], "float64"))
    expected /= expected.sum()
    result = generation.write(text, 64, loop.weights(), primer, 5, 1.0, 0)
    np.testing.assert_allclose(result.probabilities[0], expected, atol=1e-5)


def test_temperature_towards_zero_is_the_argmax_and_probabilities_sum_to_one(trained):
    text, loop, _ = trained
    cold = [generation.write(text, 64, loop.weights(), "The ", 60, t, seed) for t, seed in ((0.0, 0), (1e-6, 7))]
    assert cold[0].text == cold[1].text
    chosen = [text.index[ch] for ch in cold[0].text]
    assert chosen == list(cold[0].probabilities.argmax(axis=1))
    warm = generation.write(text, 64, loop.weights(), "The ", 200, 1.0, 3)
    np.testing.assert_allclose(warm.probabilities.sum(axis=1), 1.0, atol=1e-5)
    drawn = warm.probabilities[np.arange(200), [text.index[ch] for ch in warm.text]]
    assert drawn.min() > 0
    hot = generation.write(text, 64, loop.weights(), "The ", 200, 2.0, 3)
    entropy = [-(p * np.log(p + 1e-12)).sum(axis=1).mean() for p in (warm.probabilities, hot.probabilities)]
    assert entropy[1] > entropy[0]  # hotter is flatter
    labels, chances = generation.top_choices(warm.probabilities[0], text)
    assert len(labels) == 10 and list(chances) == sorted(chances, reverse=True)


@pytest.mark.parametrize(
    "primer, message",
    [("", "Type a few characters"), ("Ωmega ☃", "'Ω', '☃'"), ("a" * 201, "at most 200")],
)
def test_a_start_the_model_cannot_read_gets_a_clear_message(primer, message):
    with pytest.raises(generation.BadPrimer, match=message):
        generation.encode_primer(primer, generation.character_text(generation.NEWS))


def test_the_page_trains_the_generator_and_writes_from_a_students_start():
    at = AppTest.from_file(str(HOME), default_timeout=120)
    at.query_params["generation.epochs"] = "2"
    at.query_params["generation.units"] = "64"
    at.query_params["generation.speed"] = "full speed"
    at = at.switch_page("views/sequence_models.py").run()
    assert not at.exception
    train_runs(at, [generation.RUN], 200)
    text = shown(" ".join(m.value for m in at.markdown))
    assert "After epoch 2 the model's held-out perplexity is" in text and "unigram model" in chart_text(at)
    captions = " ".join(c.value for c in at.caption)
    assert "After epoch 2: " in captions and "After epoch 1: " in captions
    samples = [c.value for c in at.code]
    assert len(samples) == 2 and all(len(s) > generation.SAMPLE_LENGTH for s in samples)
    assert at.text[0].value.startswith(generation.PRIMERS[generation.NEWS])
    assert "Character 1: the ten likeliest" in chart_text(at)
    at.text_input(key="sequence_models:primer").input("Ωmega").run()
    assert not at.exception and "'Ω'" in shown(at.warning[0].value)
