"""Emojify (the deep-learning course's exercise, on sentences written for this app): a short sentence answered with
one of five emoji, by a softmax over the average of its GloVe vectors and by an LSTM reading them in order. Both
are trained live on 110 sentences; the 25 held out each have words that no training sentence has ('adore',
'soccer', 'pizza'), so answering them right takes what GloVe knows: a word never seen in training lies near seen
words that mean alike.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.pacing import speed_control
from core.engine.params import Control, ControlBox, fixed_values, live_values
from core.lessons.word2vec.sentiment import (
    MAX_TEXT,
    NoWords,
    ReaderLoop,
    row_key,
    run_with_weights,
    train_readers,
    words,
)
from core.lessons.word2vec.sentiment import encode as encode_words

RUN = "word2vec/emojify"
SENTENCES = Path(__file__).with_name("emojify.csv")
CLASSES = ("love", "sport", "happy", "sad", "food")
EMOJI = {"love": "❤️", "sport": "⚾", "happy": "😄", "sad": "😞", "food": "🍴"}
AVERAGE, LSTM = "averaged GloVe + softmax", "LSTM on GloVe"
MODELS = (AVERAGE, LSTM)
RATES = {AVERAGE: 0.01, LSTM: 0.005}
MAX_WORDS = 10
BATCH = 10
METRICS = ("loss", "accuracy", "val_accuracy")
SPEEDS = {"slow motion": 5.0, "steady": 20.0, "full speed": None}
MAX_CHUNK = 20
NEGATED = "I am not happy"
"""The course's hard case: an average of word vectors reads it as happy."""
COMMONEST = 300
"""GloVe's commonest words ('the', 'be', 'after'): grammar more than meaning."""

CONTROLS = (
    Control("models", "Models", "multi", MODELS, options=MODELS, min=1, max_items=len(MODELS)),
    Control("epochs", "Epochs", "int", 60, min=5, max=300),
    Control("units", "LSTM units", "select", 32, options=(8, 16, 32, 64, 128)),
    Control("seed", "Random seed", "int", 0, min=0, max=9999),
    speed_control(SPEEDS),
)
BOX = ControlBox("emojify", "Models and training", CONTROLS, flat=False)


def label(name: str) -> str:
    return f"{EMOJI[name]} {name}"


@dataclass(frozen=True)
class Sentence:
    text: str
    emoji: int
    held_out: bool


@functools.lru_cache(maxsize=1)
def sentences() -> tuple[Sentence, ...]:
    with SENTENCES.open(encoding="utf-8", newline="") as handle:
        return tuple(
            Sentence(row["sentence"], CLASSES.index(row["emoji"]), row["split"] == "test")
            for row in csv.DictReader(handle)
        )


@dataclass(frozen=True)
class GloveTable:
    """GloVe's 50,000 commonest words as a frozen embedding table (row 0: padding), so that every word GloVe knows
    can be read, seen in training or not."""

    words: tuple[str, ...]
    index: Mapping[str, int]
    vectors: np.ndarray


@functools.lru_cache(maxsize=1)
def glove_table() -> GloveTable:
    from core.shared import glove

    vocabulary = glove.load(glove.DEFAULT_VOCABULARY)
    table = np.zeros((len(vocabulary) + 1, vocabulary.vectors.shape[1]), dtype="float32")
    table[1:] = vocabulary.vectors
    return GloveTable(("",) + tuple(vocabulary.words), {w: i + 1 for i, w in enumerate(vocabulary.words)}, table)


def encode(text: str, table: GloveTable) -> np.ndarray:
    return encode_words(words(text), table.index, MAX_WORDS)


@dataclass(frozen=True)
class EmojiData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    train_words: frozenset[str]
    test_sentences: tuple[Sentence, ...]


@functools.lru_cache(maxsize=1)
def emoji_data() -> EmojiData:
    table = glove_table()
    train = [s for s in sentences() if not s.held_out]
    test = [s for s in sentences() if s.held_out]
    return EmojiData(
        np.stack([encode(s.text, table) for s in train]),
        np.array([s.emoji for s in train], dtype="int32"),
        np.stack([encode(s.text, table) for s in test]),
        np.array([s.emoji for s in test], dtype="int32"),
        frozenset(w for s in train for w in words(s.text)),
        tuple(test),
    )


def build_model(name: str, table: np.ndarray, units: int):
    """Word ids (0: padding) → one logit per emoji."""
    from core.engine.backend import load_keras

    keras = load_keras()
    ops = keras.ops
    ids = keras.Input((MAX_WORDS,), dtype="int32", name="ids")
    embedded = keras.layers.Embedding(
        len(table),
        table.shape[1],
        embeddings_initializer=keras.initializers.Constant(table),
        trainable=False,
        mask_zero=name == LSTM,
        name="glove",
    )(ids)
    if name == AVERAGE:
        present = ops.expand_dims(ops.cast(ids > 0, "float32"), -1)
        features = ops.sum(embedded * present, axis=1) / ops.maximum(ops.sum(present, axis=1), 1.0)
    else:
        features = keras.layers.LSTM(units, name="lstm")(embedded)
    return keras.Model(ids, keras.layers.Dense(len(CLASSES), name="output")(features), name=name.split()[0])


def cross_entropy(logits, labels):
    import jax.numpy as jnp
    from jax.nn import log_softmax

    return -jnp.mean(jnp.take_along_axis(log_softmax(logits), labels[:, None], axis=1))


class EmojiModel(ReaderLoop):
    """One model; its row after each epoch: loss, training and held-out accuracy."""

    def __init__(self, name: str, data: EmojiData, units: int, seed: int):
        from core.engine.backend import load_keras

        load_keras().utils.set_random_seed(seed)
        split = (data.x_train, data.y_train, data.x_test, data.y_test)
        model = build_model(name, glove_table().vectors, units)
        super().__init__(name, model, RATES[name], split, BATCH, seed, MAX_CHUNK, len(METRICS))

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        logits, non_trainable = self.model.stateless_call(trainable, non_trainable, x)
        return cross_entropy(logits, y), non_trainable

    def epoch_row(self, trainable, non_trainable, batch_losses):
        import jax.numpy as jnp

        train_logits, _ = self.model.stateless_call(trainable, non_trainable, self.x)
        test_logits, _ = self.model.stateless_call(trainable, non_trainable, self.x_test)
        return jnp.stack(
            [
                jnp.mean(batch_losses),
                jnp.mean(jnp.argmax(train_logits, axis=1) == self.y),
                jnp.mean(jnp.argmax(test_logits, axis=1) == self.y_test),
            ]
        )


@functools.lru_cache(maxsize=4)
def _model_for(name: str, units: int):
    """A built model to run snapshots' weights through (statelessly): one per model and width."""
    return build_model(name, glove_table().vectors, units)


def probabilities(name: str, weights: Sequence[np.ndarray], units: int, ids: np.ndarray) -> np.ndarray:
    """Each emoji's probability for rows of word ids (n, 5), with a snapshot's trainable weights."""
    logits = run_with_weights(_model_for(name, units), weights, glove_table().vectors, ids)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def showing_negation() -> int:
    """Training sentences with 'not' before the negated sentence's last word ('not happy')."""
    phrase = " ".join(NEGATED.lower().split()[-2:])
    return sum(phrase in " ".join(words(s.text)) for s in sentences() if not s.held_out)


def answer(name: str, weights: Sequence[np.ndarray], units: int, text: str) -> str:
    """The emoji class a model gives a sentence of known words."""
    return CLASSES[int(probabilities(name, weights, units, encode(text, glove_table()))[0].argmax())]


def read_sentence(typed: str) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """A typed sentence as word ids, the words read and a note on the rest; NoWords if none can be read."""
    table = glove_table()
    typed = typed or ""
    notes = []
    if len(typed) > MAX_TEXT:
        notes.append(f"Only the first {MAX_TEXT:,} of its {len(typed):,} characters are read.")
        typed = typed[:MAX_TEXT]
    found = words(typed)
    if not found:
        raise NoWords("Type a sentence in English words: emoji, digits and other scripts are ignored.")
    known = [w for w in found if w in table.index]
    if not known:
        raise NoWords("None of its words is among GloVe's 50,000 commonest: try everyday English words.")
    unknown = sorted(set(found) - set(known))
    if unknown:
        notes.append("Not in GloVe's 50,000 commonest words, so left out: " + ", ".join(unknown[:12]))
    if len(known) > MAX_WORDS:
        notes.append(f"The models read the first {MAX_WORDS} words.")
    return encode(" ".join(known), table), tuple(known[:MAX_WORDS]), tuple(notes)


@functools.lru_cache(maxsize=512)
def nearest_seen(word: str, seen: frozenset[str]) -> tuple[str, float] | None:
    """The training word nearest to `word` in GloVe (cosine), or None if GloVe lacks it."""
    table = glove_table()
    if word not in table.index:
        return None
    candidates = sorted(w for w in seen if w in table.index and w != word)
    vectors = table.vectors[[table.index[w] for w in candidates]].astype("float64")
    target = table.vectors[table.index[word]].astype("float64")
    cosines = vectors @ target / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(target) + 1e-12)
    best = int(np.argmax(cosines))
    return candidates[best], float(cosines[best])


@dataclass(frozen=True)
class HeldOutAnswer:
    sentence: str
    truth: int
    answers: Mapping[str, int]
    unseen: tuple[tuple[str, str, float], ...]
    """Its words no training sentence has, each with the nearest training word in GloVe and their cosine."""


def held_out_answers(shot: EmojiSnapshot) -> list[HeldOutAnswer]:
    data = emoji_data()
    answers = {
        name: probabilities(name, shot.weights[name], shot.units, data.x_test).argmax(axis=1) for name in shot.models
    }
    rows = []
    for index, sentence in enumerate(data.test_sentences):
        unseen = []
        for word in dict.fromkeys(words(sentence.text)):
            if word not in data.train_words:
                near = nearest_seen(word, data.train_words)
                if near is not None:
                    unseen.append((word, *near))
        rows.append(
            HeldOutAnswer(
                sentence.text, sentence.emoji, {name: int(a[index]) for name, a in answers.items()}, tuple(unseen)
            )
        )
    return rows


def confusion(truth: np.ndarray, answers: np.ndarray) -> np.ndarray:
    matrix = np.zeros((len(CLASSES), len(CLASSES)), dtype="int64")
    np.add.at(matrix, (truth, answers), 1)
    return matrix


@dataclass(frozen=True)
class EmojiSnapshot:
    epoch: int
    models: tuple[str, ...]
    units: int
    weights: Mapping[str, list[np.ndarray]]


@task_factory
def emojify_task(config: Mapping[str, Any]) -> TrainingTask:
    """The live run: each chosen model trained an epoch in turn on the same sentences."""
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)
    chosen = tuple(name for name in MODELS if name in fixed["models"])
    units, seed = int(fixed["units"]), int(fixed["seed"])

    def train(ctx: TrainingContext):
        data = emoji_data()
        models = [EmojiModel(name, data, units, seed) for name in chosen]

        def snapshot(epochs: int) -> EmojiSnapshot:
            return EmojiSnapshot(epochs, chosen, units, {m.name: m.weights() for m in models})

        train_readers(ctx, models, snapshot, METRICS, SPEEDS, MAX_CHUNK)

    return TrainingTask(run=RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


@dataclass(frozen=True)
class EmojiNotice:
    epoch: int
    train: Mapping[str, float]
    held_out: Mapping[str, float]


def emoji_notice(history: Sequence[Mapping[str, float]], models: Sequence[str]) -> EmojiNotice | None:
    rows = [row for row in history if all(row_key("val_accuracy", name) in row for name in models)]
    if not rows:
        return None
    last = rows[-1]
    return EmojiNotice(
        int(last["epoch"]),
        {name: last[row_key("accuracy", name)] for name in models},
        {name: last[row_key("val_accuracy", name)] for name in models},
    )


def best_bridge(answers: Sequence[HeldOutAnswer], name: str) -> tuple[str, str, float, str] | None:
    """Among held-out sentences the model answered right, the unseen word closest to a training word: (unseen word,
    nearest training word, cosine, sentence), the clearest case of GloVe carrying what training taught. Words among
    GloVe's COMMONEST ('be', 'after') are passed over: they carry grammar, not the sentence's meaning."""
    index = glove_table().index
    found = [
        (unseen, sentence.sentence)
        for sentence in answers
        if sentence.answers[name] == sentence.truth
        for unseen in sentence.unseen
        if index[unseen[0]] > COMMONEST
    ]
    if not found:
        return None
    (word, near, cosine), sentence = max(found, key=lambda item: item[0][2])
    return word, near, cosine, sentence
