"""Attention, trained live: human-readable dates translated to ISO dates by a sequence-to-sequence
model whose decoder looks back at the input through an attention layer.

The data is generated offline with `faker` (random dates, seeded) and `babel` (CLDR formats, English).
Patterns use `y`, never `Y`/`YYY`: in CLDR those are the week-based year, wrong for late-December
dates. The ordinal form ("25th of june 2009") is written here. Every pair is checked by parsing the
human date back (tests).

The model is the classic one (Bahdanau et al. 2015, as in the sequence-models course): a
bidirectional LSTM reads the date; for each of the 10 output characters, an attention layer scores
every input position against the decoder's state, the softmax of the scores (the attention weights)
averages the encoder's states into a context, and a decoder LSTM step turns the context into the next
output character. Scores are additive (a small tanh network, Bahdanau) or a dot product (Luong).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.pacing import keras_pace_callback, speed_control
from core.engine.params import Control, ControlBox, fixed_values, live_values

LESSON = "attention"
DATES_RUN = "attention/dates"
FORMATS = (
    "d MMM y",
    "d MMMM y",
    "dd MMM y",
    "EEEE d MMMM y",
    "EEE d MMM y",
    "dd/MM/y",
    "dd.MM.y",
    "d.M.y",
    "MMMM d, y",
    "MMM d, y",
    "EEEE, MMMM d, y",
    "medium",
    "long",
    "full",
    "ordinal",
)
"""CLDR patterns and babel's named English formats ('short' is left out: its two-digit year is
ambiguous), plus 'ordinal', written here."""
FIRST_DAY, LAST_DAY = dt.date(1950, 1, 1), dt.date(2049, 12, 31)
INPUT_LENGTH, OUTPUT_LENGTH = 30, 10
PAD = "·"
OUTPUT_VOCABULARY = "0123456789-"
ENCODER_UNITS, DECODER_UNITS, SCORE_UNITS = 32, 64, 10
HELD_OUT = 1000
EXAMPLE_FORMATS = ("EEEE d MMMM y", "ordinal", "dd/MM/y", "MMM d, y", "d.M.y", "full")
"""One held-out example in each of these formats is shown with its attention map."""
ATTENTIONS = ("additive (Bahdanau)", "dot product (Luong)")
SPEEDS = {"slow motion": 2.0, "steady": 10.0, "full speed": None}
"""Training batches per second."""


def _ordinal(day: int) -> str:
    return f"{day}{'th' if 11 <= day % 100 <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


def human_date(day: dt.date, pattern: str) -> str:
    """A date as people write it, lower case (e.g. 'tuesday 10 march 2015', '25th of june 2009')."""
    from babel.dates import format_date

    if pattern == "ordinal":
        return f"{_ordinal(day.day)} of {format_date(day, 'MMMM', locale='en')} {day.year}".lower()
    return format_date(day, format=pattern, locale="en").lower()


FORMAT_EXAMPLE_DAY = dt.date(2015, 3, 10)


def format_example(pattern: str) -> str:
    """A pattern shown as a student reads it: the example day written that way ('tuesday 10 march 2015'
    for 'EEEE d MMMM y'), not its CLDR code."""
    return human_date(FORMAT_EXAMPLE_DAY, pattern)


@functools.lru_cache(maxsize=1)
def input_vocabulary() -> str:
    """Every character any format can write: each month and weekday in every pattern, and digits."""
    days = [dt.date(2001, month, 10 + weekday) for month in range(1, 13) for weekday in range(7)]
    characters = {ch for day in days for pattern in FORMATS for ch in human_date(day, pattern)}
    return PAD + "".join(sorted(characters | set("0123456789")))


@functools.lru_cache(maxsize=4)
def make_dates(n: int, seed: int) -> tuple[tuple[str, str, str], ...]:
    """n (human, ISO, pattern) triples: dates drawn by faker between FIRST_DAY and LAST_DAY, each in
    a random pattern, all from `seed`."""
    from faker import Faker

    fake = Faker()
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)
    triples = []
    for _ in range(n):
        day = fake.date_between(FIRST_DAY, LAST_DAY)
        pattern = FORMATS[int(rng.integers(len(FORMATS)))]
        triples.append((human_date(day, pattern), day.isoformat(), pattern))
    return tuple(triples)


def encode_input(text: str) -> np.ndarray:
    """A date typed by a student as input ids (padded to INPUT_LENGTH); ValueError with a reason."""
    text = text.strip().lower()
    if not text:
        raise ValueError("Type a date, e.g. 'tuesday 10 march 2015' or '25th of june 2009'.")
    if len(text) > INPUT_LENGTH:
        raise ValueError(f"That is {len(text)} characters; the model reads at most {INPUT_LENGTH}.")
    vocabulary = input_vocabulary()
    unknown = sorted(set(text) - set(vocabulary[1:]))
    if unknown:
        raise ValueError(
            f"The model never saw {', '.join(repr(ch) for ch in unknown)}: dates here use letters of "
            "English month and day names, digits, spaces and , . /"
        )
    return np.array([vocabulary.index(ch) for ch in text] + [0] * (INPUT_LENGTH - len(text)))


def one_hot_inputs(ids: np.ndarray) -> np.ndarray:
    return np.eye(len(input_vocabulary()), dtype="float32")[ids]


def encode_output(iso: str) -> np.ndarray:
    return np.array([OUTPUT_VOCABULARY.index(ch) for ch in iso])


def dataset(n: int, seed: int):
    """(train, held-out) as ((x one-hot, y ids, texts)); the held-out part is the last HELD_OUT dates."""
    triples = make_dates(n + HELD_OUT, seed)
    x = one_hot_inputs(np.stack([encode_input(human) for human, _, _ in triples]))
    y = np.stack([encode_output(iso) for _, iso, _ in triples])
    return (x[:n], y[:n], triples[:n]), (x[n:], y[n:], triples[n:])


def build_models(attention: str, seed: int):
    """The translator (one-hot date in, 10 × 11 logits out) and a second model over the same layers
    that returns the attention weights (10 × INPUT_LENGTH)."""
    from core.engine.backend import load_keras

    keras = load_keras()
    layers = keras.layers
    keras.utils.set_random_seed(int(seed))  # thread-local: call in the thread that trains
    date = keras.Input((INPUT_LENGTH, len(input_vocabulary())), name="date")
    encoded = layers.Bidirectional(layers.LSTM(ENCODER_UNITS, return_sequences=True), name="encoder")(date)
    repeat, join = layers.RepeatVector(INPUT_LENGTH), layers.Concatenate(axis=-1)
    hidden, score = layers.Dense(SCORE_UNITS, activation="tanh", name="score_hidden"), layers.Dense(1, name="score")
    to_state = layers.Dense(2 * ENCODER_UNITS, use_bias=False, name="luong_W")
    scores_of = layers.Dot(axes=(2, 1))
    column = layers.Reshape((INPUT_LENGTH, 1))
    softmax, average = layers.Softmax(axis=1, name="attention"), layers.Dot(axes=1)
    decoder = layers.LSTM(DECODER_UNITS, return_state=True, name="decoder")
    output = layers.Dense(len(OUTPUT_VOCABULARY), name="output")
    batch = layers.Lambda(lambda t: t[:, 0, :1] * 0.0)(date)
    state = layers.Lambda(lambda t: keras.ops.tile(t, (1, DECODER_UNITS)))(batch)
    cell, logits, weights = state, [], []
    for _ in range(OUTPUT_LENGTH):
        if attention == ATTENTIONS[0]:
            energies = score(hidden(join([repeat(state), encoded])))
        else:
            energies = column(scores_of([encoded, to_state(state)]))
        alphas = softmax(energies)
        context = average([alphas, encoded])
        state, _, cell = decoder(context, initial_state=[state, cell])
        logits.append(layers.Reshape((1, len(OUTPUT_VOCABULARY)))(output(state)))
        weights.append(layers.Reshape((1, INPUT_LENGTH))(alphas))
    translator = keras.Model(date, layers.Concatenate(axis=1)(logits), name="translator")
    attention_model = keras.Model(date, layers.Concatenate(axis=1)(weights), name="attention_weights")
    return translator, attention_model


def compile_model(model, learning_rate: float) -> None:
    from core.engine.backend import load_keras

    keras = load_keras()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def decode(logits: np.ndarray) -> list[str]:
    return ["".join(OUTPUT_VOCABULARY[k] for k in row) for row in np.asarray(logits).argmax(axis=-1)]


def exact_match(model, x: np.ndarray, y: np.ndarray) -> float:
    """Share of dates whose 10 output characters are all right."""
    predicted = np.asarray(model.predict_on_batch(x)).argmax(axis=-1)
    return float(np.mean(np.all(predicted == y, axis=1)))


def example_indices(triples: Sequence[tuple[str, str, str]]) -> list[int]:
    """The first held-out date in each of EXAMPLE_FORMATS."""
    return [
        next(i for i, (_, _, pattern) in enumerate(triples) if pattern == wanted)
        for wanted in EXAMPLE_FORMATS
        if any(pattern == wanted for _, _, pattern in triples)
    ]


DATE_CONTROLS = (
    Control(
        "attention",
        "Attention",
        "select",
        ATTENTIONS[0],
        options=ATTENTIONS,
        help="Additive: a small tanh network scores each input position against the decoder's state. Dot product: "
        "the score is the decoder's state times a learned matrix times the encoder's state.",
    ),
    Control("dates", "Training dates", "select", 9000, options=(2000, 5000, 9000, 20000)),
    Control("epochs", "Epochs", "int", 20, min=1, max=200),
    Control("seed", "Seed", "int", 0, min=0, max=9999),
    Control("learning_rate", "Learning rate (Adam)", "select", 0.005, options=(0.001, 0.002, 0.005, 0.01), live=True),
    speed_control(SPEEDS, unit="batches"),
)
DATE_BOX = ControlBox("dates", "Translator", DATE_CONTROLS)
BATCH = 100


@dataclass(frozen=True)
class TranslatorSnapshot:
    """The translator after an epoch: its weights, and for each example date its translation and
    attention map."""

    epoch: int
    weights: list[np.ndarray]
    examples: list[tuple[str, str, str]]
    """(written date, ISO date, format) per example."""
    translations: list[str]
    attention: np.ndarray
    """(examples, OUTPUT_LENGTH, INPUT_LENGTH): how much each output character looks at each input one."""


@dataclass(frozen=True)
class ComparisonSnapshot:
    """The race with and without attention: exact match per length of the written date."""

    epoch: int
    by_length: dict[str, list[float]]
    bins: tuple[tuple[int, int], ...]
    counts: list[int]
    """Held-out dates in each length bin."""


def snapshot_of(translator, attention_model, held_out, examples: list[int], epoch: int) -> TranslatorSnapshot:
    x, _, triples = held_out
    chosen = x[examples]
    return TranslatorSnapshot(
        epoch=epoch,
        weights=[np.asarray(w) for w in translator.get_weights()],
        examples=[triples[i] for i in examples],
        translations=decode(translator.predict_on_batch(chosen)),
        attention=np.asarray(attention_model.predict_on_batch(chosen)),
    )


def exact_match_callback(translator, held_out):
    """Adds the held-out exact-match share to each epoch's logs (before the job publishes them)."""
    from core.engine.backend import load_keras

    keras = load_keras()
    x, y, _ = held_out

    class ExactMatch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                logs["val_exact_match"] = exact_match(translator, x, y)

    return ExactMatch()


@task_factory
def dates_task(config: Mapping[str, Any]) -> TrainingTask:
    fixed, live = fixed_values(DATE_CONTROLS, config), live_values(DATE_CONTROLS, config)

    def train(ctx: TrainingContext):
        (x, y, _), held_out = dataset(int(fixed["dates"]), int(fixed["seed"]))
        translator, attention_model = build_models(fixed["attention"], fixed["seed"])
        compile_model(translator, float(live["learning_rate"]))
        examples = example_indices(held_out[2])

        def snapshot(model, epoch):
            return snapshot_of(model, attention_model, held_out, examples, epoch)

        ctx.replace_snapshot(snapshot(translator, 0))
        translator.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=ctx.epochs,
            verbose=0,
            validation_data=held_out[:2],
            callbacks=[
                exact_match_callback(translator, held_out),
                ctx.keras_callback(snapshot, 0.5),
                keras_pace_callback(ctx, SPEEDS),
            ],
        )
        return {"weights": [np.asarray(w) for w in translator.get_weights()]}

    return TrainingTask(run=DATES_RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


class Translator:
    """A trained (or half-trained) date model rebuilt from its weights, for dates the student types."""

    def __init__(self, attention: str, weights: Sequence[np.ndarray]):
        from core.engine.backend import keras_in_use

        with keras_in_use():
            self.model, self.attention_model = build_models(attention, 0)
            self.model.set_weights(list(weights))

    def translate(self, text: str) -> tuple[str, np.ndarray]:
        """The ISO date the model writes, and its attention (OUTPUT_LENGTH × characters typed)."""
        x = one_hot_inputs(encode_input(text)[None])
        length = len(text.strip())
        return decode(self.model.predict_on_batch(x))[0], np.asarray(self.attention_model.predict_on_batch(x))[
            0, :, :length
        ]


def check_translation(text: str, iso: str) -> str | None:
    """Whether the model's answer is a real date, and the right one where the input can be read by
    dateutil (day first): None only when the input reads as a date equal to the answer, else what is
    wrong or why the answer cannot be checked."""
    from dateutil import parser

    try:
        answer = dt.date.fromisoformat(iso)
    except ValueError:
        return f"'{iso}' is not a real date."
    try:
        wanted = parser.parse(text.strip().lower().replace(" of ", " "), dayfirst=True).date()
    except (ValueError, OverflowError):
        return "The checker cannot read your text as a date, so it cannot say whether this answer is right."
    return None if wanted == answer else f"The right answer is {wanted.isoformat()}."


COMPARE_RUN = "attention/compare"
WITH, WITHOUT = "with attention", "without attention"
COMPARE_CONTROLS = (
    Control("epochs", "Epochs", "int", 15, min=1, max=100, was="compare_epochs"),
    Control("seed", "Seed", "int", 0, min=0, max=9999, was="compare_seed"),
)
COMPARE_BOX = ControlBox("compare", "Comparison", COMPARE_CONTROLS)
LENGTH_BINS = ((0, 10), (11, 14), (15, 18), (19, 22), (23, 30))


def build_plain_model(seed: int):
    """The same encoder and decoder without attention: the decoder gets only the encoder's final
    states (one fixed-size summary of the whole date), repeated for each output character."""
    from core.engine.backend import load_keras

    keras = load_keras()
    layers = keras.layers
    keras.utils.set_random_seed(int(seed))
    date = keras.Input((INPUT_LENGTH, len(input_vocabulary())), name="date")
    summary = layers.Bidirectional(layers.LSTM(ENCODER_UNITS), name="encoder")(date)
    decoded = layers.LSTM(DECODER_UNITS, return_sequences=True, name="decoder")(
        layers.RepeatVector(OUTPUT_LENGTH)(summary)
    )
    return keras.Model(date, layers.Dense(len(OUTPUT_VOCABULARY), name="output")(decoded), name="no_attention")


def exact_by_length(model, x: np.ndarray, y: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Exact-match share of held-out dates in each of LENGTH_BINS (NaN for an empty bin)."""
    right = np.all(np.asarray(model.predict_on_batch(x)).argmax(axis=-1) == y, axis=1)
    return np.array(
        [
            right[(lengths >= low) & (lengths <= high)].mean()
            if np.any((lengths >= low) & (lengths <= high))
            else np.nan
            for low, high in LENGTH_BINS
        ]
    )


@task_factory
def compare_task(config: Mapping[str, Any]) -> TrainingTask:
    """The translator with attention against the same network without, trained side by side on the
    same dates (the lesson's default data, additive attention), one epoch each in turn."""
    fixed = fixed_values(COMPARE_CONTROLS, config)

    def train(ctx: TrainingContext):
        from core.engine.pacing import train_in_chunks

        (x, y, _), (x_test, y_test, triples) = dataset(9000, int(fixed["seed"]))
        lengths = np.array([len(human) for human, _, _ in triples])
        with_attention, _ = build_models(ATTENTIONS[0], fixed["seed"])
        models = {WITH: with_attention, WITHOUT: build_plain_model(fixed["seed"])}
        for model in models.values():
            compile_model(model, 0.005)
        progress = {"epoch": 0, "by_length": {}}
        counts = [int(np.sum((lengths >= low) & (lengths <= high))) for low, high in LENGTH_BINS]

        def snapshot():
            return ComparisonSnapshot(progress["epoch"], dict(progress["by_length"]), LENGTH_BINS, counts)

        def run(n: int, live) -> list[dict[str, float]]:
            rows = []
            for _ in range(n):
                row = {}
                for name, model in models.items():
                    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
                    progress["by_length"][name] = exact_by_length(model, x_test, y_test, lengths)
                    row[f"{name}: exact_match"] = exact_match(model, x_test, y_test)
                progress["epoch"] += 1
                rows.append(row)
            return rows

        ctx.replace_snapshot(snapshot())
        train_in_chunks(ctx, run, snapshot, lambda live: None, 1)

    return TrainingTask(run=COMPARE_RUN, config=fixed, train=train, epochs=int(fixed["epochs"]))


def compare_findings(history: Sequence[Mapping[str, float]], target: float = 0.95) -> list[str]:
    """When each model first translated `target` of the held-out dates exactly, and where it is now."""
    lines = []
    for name in (WITH, WITHOUT):
        key = f"{name}: exact_match"
        rows = [row for row in history if key in row]
        if not rows:
            continue
        first = next((int(row["epoch"]) for row in rows if row[key] >= target), None)
        reached = f"reached {target:.0%} at epoch {first}" if first else f"has not reached {target:.0%} yet"
        lines.append(
            f"**{name.capitalize()}**: {reached}; after epoch {int(rows[-1]['epoch'])}, {rows[-1][key]:.1%} exactly "
            f"right."
        )
    return lines
