"""English to French, trained live: an encoder-decoder of GRUs (Sutskever et al. 2014; Cho et al. 2014), with or
without attention over the encoder's states (Luong's dot product or Bahdanau's additive score, Keras' own layers),
on the shared loop.

The encoder reads the English words; its last state starts the decoder, which writes French a word at a time. In
training the decoder reads the right French so far (teacher forcing) and is asked for the next word: one pass
over the sentence trains every step. Translating, it reads its own words instead, chosen greedily (the likeliest
word each step) or by beam search (the `width` likeliest beginnings kept each step, scored by their summed log
probabilities).

Each epoch's row holds the training loss and, on sentences whose number training never shows: the loss and
word accuracy with teacher forcing (what Keras' `fit` reports), and the word accuracy and exact-sentence
accuracy of greedy translation, each word compared with the reference in its place (the end marker counted,
everything after the model's own end marker blank).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.loop import MiniBatchLoop
from core.engine.pacing import speed_control
from core.engine.params import Control, ControlBox, fixed_values, live_values
from core.lessons.sequence_models import numbers
from core.lessons.sequence_models.common import LEARNING_RATE, SEED, train_live
from core.lessons.sequence_models.numbers import END, START, ParallelCorpus

RUN = "sequence_models/translation"
NONE, DOT, ADDITIVE = "none", "dot product (Luong)", "additive (Bahdanau)"
ATTENTIONS = (DOT, ADDITIVE, NONE)
EMBEDDING = 32
BATCH = 64
SPEEDS = {"slow motion": 0.25, "steady": 1.0, "full speed": None}
"""Epochs per second."""
MAX_CHUNK = 2
METRICS = ("loss", "val_loss", "val_forced_accuracy", "val_word_accuracy", "val_exact")
EXAMPLES = 6
"""Held-out sentences whose translations are shown as the model learns."""
MAX_BEAM = 8

CONTROLS = (
    Control(
        "attention",
        "Attention",
        "select",
        DOT,
        options=ATTENTIONS,
        help="Dot product: each decoder state scores every English word's encoder state by their dot product. "
        "Additive: a small tanh network scores them. None: the decoder knows the English only through the encoder's "
        "last state.",
    ),
    Control("units", "GRU units", "select", 64, options=(32, 64, 128)),
    Control("sentences", "Sentences", "select", 12000, options=(4000, 12000, 30000)),
    Control("epochs", "Epochs", "int", 10, min=1, max=60),
    SEED,
    LEARNING_RATE,
    speed_control(SPEEDS),
)
BOX = ControlBox("translation", "Translator", CONTROLS, flat=False)


def build_model(english: int, french: int, source_length: int, target_length: int, units: int, attention: str):
    """The translator: (English ids, French ids read so far) in; (logits for the next French word at each step,
    attention weights: steps × English words) out. Without attention the weights are zeros."""
    from core.engine.backend import load_keras

    keras = load_keras()
    layers = keras.layers
    source = keras.Input((source_length,), dtype="int32", name="english")
    read = keras.Input((target_length - 1,), dtype="int32", name="french_so_far")
    encoded, state = layers.GRU(units, return_sequences=True, return_state=True, name="encoder")(
        layers.Embedding(english, EMBEDDING, mask_zero=True, name="english_embedding")(source)
    )
    decoded = layers.GRU(units, return_sequences=True, name="decoder")(
        layers.Embedding(french, EMBEDDING, mask_zero=True, name="french_embedding")(read), initial_state=state
    )
    if attention == NONE:
        features = decoded
        weights = layers.Lambda(  # from the ids, which carry no mask
            lambda ids: keras.ops.zeros_like(keras.ops.cast(ids[0][:, :, None] * ids[1][:, None, :], "float32")),
            name="no_attention",
        )([read, source])
    else:
        score = layers.Attention(name="attention") if attention == DOT else layers.AdditiveAttention(name="attention")
        context, weights = score([decoded, encoded], return_attention_scores=True)
        features = layers.Concatenate(name="state_and_context")([decoded, context])
    logits = layers.Dense(french, name="next_word")(features)
    return keras.Model([source, read], [logits, weights], name="translator")


@functools.lru_cache(maxsize=8)
def _shared_model(*shape):
    return build_model(*shape)


def model_for(corpus: ParallelCorpus, units: int, attention: str, fresh: bool = False):
    """The translator's model for a corpus: a new one (weights drawn from the current seed) to train, else one
    shared per shape, whose own weights are never used (a snapshot's are passed in)."""
    return (build_model if fresh else _shared_model)(
        len(corpus.english), len(corpus.french), corpus.source_length, corpus.target_length, int(units), attention
    )


def masked_cross_entropy(logits, labels):
    """Mean cross-entropy over the words of the reference (padding left out)."""
    import jax
    import jax.numpy as jnp

    log_probabilities = jax.nn.log_softmax(logits, axis=-1)
    picked = jnp.take_along_axis(log_probabilities, labels[..., None], axis=-1)[..., 0]
    mask = labels > 0
    return -jnp.sum(jnp.where(mask, picked, 0.0)) / jnp.maximum(jnp.sum(mask), 1)


def greedy_ids(model, trainable, non_trainable, source):
    """Greedy translation of rows of English ids, inside jit: the French ids chosen at each step (target_length − 1
    of them), everything after the first end marker blank (0). Each step reruns the decoder on the words chosen so
    far: the GRU reads left to right, so later blanks do not change an earlier step."""
    import jax.numpy as jnp
    from jax import lax

    steps = model.inputs[1].shape[1]
    end = 2  # numbers.Vocabulary puts START at 1 and END at 2
    read = jnp.zeros((source.shape[0], steps), "int32").at[:, 0].set(1)
    chosen = jnp.zeros((source.shape[0], steps), "int32")

    def step(t, carry):
        read, chosen = carry
        (logits, _), _ = model.stateless_call(trainable, non_trainable, [source, read])
        word = jnp.argmax(logits[:, t], axis=-1).astype("int32")
        chosen = chosen.at[:, t].set(word)
        read = lax.cond(t + 1 < steps, lambda r: r.at[:, t + 1].set(word), lambda r: r, read)
        return read, chosen

    _, chosen = lax.fori_loop(0, steps, step, (read, chosen))
    ended = jnp.cumsum(jnp.cumsum(chosen == end, axis=1) > 0, axis=1) > 1  # strictly after the first end marker
    return jnp.where(ended, 0, chosen)


def scores(chosen, labels):
    """Word accuracy over the reference's words (end marker included) and the share of sentences exactly right."""
    import jax.numpy as jnp

    mask = labels > 0
    right = (chosen == labels) & mask
    return jnp.sum(right) / jnp.sum(mask), jnp.mean(jnp.all(chosen == labels, axis=1))


class TranslatorLoop(MiniBatchLoop):
    """The translator on the shared loop: x the English rows, y the French rows ([START] … [END], padded)."""

    def __init__(self, corpus: ParallelCorpus, units: int, attention: str, seed: int):
        from core.engine.backend import load_keras

        keras = load_keras()
        keras.utils.set_random_seed(int(seed))
        model = model_for(corpus, units, attention, fresh=True)
        optimizer = keras.optimizers.Adam(0.005)
        optimizer.build(model.trainable_variables)
        self.test_source = corpus.source[corpus.held_out]
        self.test_target = corpus.target[corpus.held_out]
        train = corpus.train
        super().__init__(
            model, optimizer, corpus.source[train], corpus.target[train], BATCH, seed, MAX_CHUNK, (len(METRICS),)
        )

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        (logits, _), non_trainable = self.model.stateless_call(trainable, non_trainable, [x, y[:, :-1]])
        return masked_cross_entropy(logits, y[:, 1:]), non_trainable

    def epoch_row(self, trainable, non_trainable, batch_losses):
        import jax.numpy as jnp

        source, target = jnp.asarray(self.test_source), jnp.asarray(self.test_target)
        labels = target[:, 1:]
        (logits, _), _ = self.model.stateless_call(trainable, non_trainable, [source, target[:, :-1]])
        mask = labels > 0
        forced = jnp.sum((jnp.argmax(logits, -1) == labels) & mask) / jnp.sum(mask)
        word_accuracy, exact = scores(greedy_ids(self.model, trainable, non_trainable, source), labels)
        return jnp.stack([jnp.mean(batch_losses), masked_cross_entropy(logits, labels), forced, word_accuracy, exact])

    def weights(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return [np.asarray(v) for v in self.state[0]], [np.asarray(v) for v in self.state[1]]


@dataclass(frozen=True)
class TranslationSnapshot:
    """The translator after `epoch` epochs: its weights, and the example sentences' greedy translations with the
    attention each French word paid to each English word."""

    epoch: int
    trainable: list[np.ndarray]
    non_trainable: list[np.ndarray]
    examples: tuple[int, ...]
    """Indices of the example pairs in the corpus."""
    english: tuple[tuple[str, ...], ...]
    references: tuple[tuple[str, ...], ...]
    """The examples' English and reference French words."""
    has_attention: bool
    translations: tuple[tuple[str, ...], ...]
    attention: tuple[np.ndarray, ...]
    """For each example: (French words written, English words)."""


def example_indices(corpus: ParallelCorpus) -> tuple[int, ...]:
    """One held-out sentence of each template, the longest first (the hardest to carry in one state)."""
    chosen = {}
    for i in corpus.held_out:
        chosen.setdefault(corpus.pairs[i].template, int(i))
    return tuple(sorted(chosen.values(), key=lambda i: -len(corpus.pairs[i].english.split())))[:EXAMPLES]


@functools.lru_cache(maxsize=8)
def _compiled(model):
    """The shared model's greedy translation and forward pass, jitted once per model (not per snapshot)."""
    import jax

    return (
        jax.jit(functools.partial(greedy_ids, model)),
        jax.jit(
            lambda trainable, non_trainable, source, read: model.stateless_call(
                trainable, non_trainable, [source, read]
            )[0]
        ),
    )


class Translator:
    """A snapshot's weights in the translator's model, for sentences chosen or typed on the page."""

    def __init__(self, corpus: ParallelCorpus, units: int, attention: str, trainable, non_trainable):
        self.corpus, self.model = corpus, model_for(corpus, units, attention)
        self.trainable, self.non_trainable = list(trainable), list(non_trainable)
        self._greedy, self._forward = _compiled(self.model)

    def forward(self, source: np.ndarray, read: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log probabilities of the next French word at every step, and the attention weights."""
        import jax

        logits, weights = self._forward(self.trainable, self.non_trainable, source, read)
        return np.asarray(jax.nn.log_softmax(logits, axis=-1), "float64"), np.asarray(weights, "float64")

    def words(self, ids: Sequence[int]) -> tuple[str, ...]:
        """French ids up to the end marker, as words."""
        out = []
        for i in ids:
            if i in (0, 2):
                break
            out.append(self.corpus.french.words[int(i)])
        return tuple(out)

    def greedy(self, source: np.ndarray) -> list[tuple[str, ...]]:
        return [self.words(row) for row in np.asarray(self._greedy(self.trainable, self.non_trainable, source))]

    def read_row(self, french: Sequence[str]) -> np.ndarray:
        """[START] + French words, padded: what the decoder reads to write them (and the end marker)."""
        row = np.zeros((1, self.corpus.target_length - 1), "int32")
        ids = [1, *(self.corpus.french.index[w] for w in french)][: row.shape[1]]
        row[0, : len(ids)] = ids
        return row

    def attention(self, source_row: np.ndarray, french: Sequence[str]) -> np.ndarray:
        """The attention each written French word (and the end marker) paid to each English word."""
        _, weights = self.forward(source_row[None], self.read_row(french))
        english = int(np.sum(source_row > 0))
        return weights[0, : len(french) + 1, :english]

    def score(self, source_row: np.ndarray, french: Sequence[str]) -> float:
        """Summed log probability of the French words and the end marker."""
        log_probabilities, _ = self.forward(source_row[None], self.read_row(french))
        ids = [self.corpus.french.index[w] for w in french] + [2]
        return float(sum(log_probabilities[0, t, i] for t, i in enumerate(ids)))


@dataclass(frozen=True)
class Beam:
    words: tuple[str, ...]
    score: float
    """Summed log probability of its words (and of its end marker, once finished)."""
    finished: bool


def beam_search(translator: Translator, source_row: np.ndarray, width: int) -> list[Beam]:
    """The `width` best translations by summed log probability (best first). Each step, every unfinished beam is
    extended by every word; the `width` best of all extensions and finished beams go on. A beam ends with the end
    marker; one that reaches the longest French sentence unfinished is kept as it stands."""
    width = int(np.clip(width, 1, MAX_BEAM))
    steps = translator.corpus.target_length - 1
    beams: list[tuple[tuple[int, ...], float, bool]] = [((), 0.0, False)]
    for t in range(steps):
        open_beams = [b for b in beams if not b[2]]
        if not open_beams:
            break
        read = np.zeros((MAX_BEAM, steps), "int32")  # one shape: compiled once
        read[:, 0] = 1
        for row, (ids, _, _) in enumerate(open_beams):
            read[row, 1 : len(ids) + 1] = ids
        source = np.repeat(source_row[None], MAX_BEAM, axis=0)
        log_probabilities, _ = translator.forward(source, read)
        candidates = [b for b in beams if b[2]]
        for row, (ids, score, _) in enumerate(open_beams):
            step = log_probabilities[row, t]
            for word in np.argsort(step)[::-1][:width]:
                if word == 0:
                    continue
                candidates.append(((*ids, int(word)), score + float(step[word]), int(word) == 2))
        beams = sorted(candidates, key=lambda b: -b[1])[:width]
    return [Beam(translator.words(ids), score, finished) for ids, score, finished in sorted(beams, key=lambda b: -b[1])]


@dataclass(frozen=True)
class ForcedStep:
    """One step of decoding a sentence two ways: fed the reference's previous word (teacher forcing), or the
    model's own previous word (free running)."""

    reference: str
    forced_read: str
    forced_guess: str
    free_read: str
    free_guess: str


def teacher_forcing_steps(translator: Translator, index: int) -> list[ForcedStep]:
    """For a pair of the corpus: at each step of its reference, what the decoder reads and writes with teacher
    forcing and when it reads its own words."""
    corpus = translator.corpus
    source = corpus.source[index][None]
    reference = [corpus.french.words[i] for i in corpus.target[index] if i > 0]
    log_probabilities, _ = translator.forward(source, corpus.target[index][None, :-1])
    forced = [corpus.french.words[int(i)] for i in log_probabilities[0].argmax(axis=-1)]
    free = list(translator.greedy(source)[0]) + [END]
    steps = []
    for t in range(len(reference) - 1):
        steps.append(
            ForcedStep(
                reference=reference[t + 1],
                forced_read=reference[t],
                forced_guess=forced[t],
                free_read=START if t == 0 else (free[t - 1] if t - 1 < len(free) else "·"),
                free_guess=free[t] if t < len(free) else "·",
            )
        )
    return steps


@task_factory
def task(config: Mapping[str, Any]) -> TrainingTask:
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)

    def train(ctx: TrainingContext):
        corpus = numbers.parallel_corpus(int(fixed["sentences"]), int(fixed["seed"]))
        loop = TranslatorLoop(corpus, int(fixed["units"]), fixed["attention"], int(fixed["seed"]))
        examples = example_indices(corpus)

        def snapshot(epochs: int) -> TranslationSnapshot:
            trainable, non_trainable = loop.weights()
            translator = Translator(corpus, int(fixed["units"]), fixed["attention"], trainable, non_trainable)
            source = corpus.source[list(examples)]
            written = translator.greedy(source)
            return TranslationSnapshot(
                epochs,
                trainable,
                non_trainable,
                examples,
                tuple(tuple(corpus.pairs[i].english.split()) for i in examples),
                tuple(tuple(corpus.pairs[i].french.split()) for i in examples),
                fixed["attention"] != NONE,
                tuple(written),
                tuple(translator.attention(row, words) for row, words in zip(source, written)),
            )

        train_live(ctx, loop, METRICS, snapshot, SPEEDS, MAX_CHUNK)

    return TrainingTask(run=RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


TARGET = 0.9
"""The seeds' reference: English to French above 90 % word accuracy within a few epochs."""


def findings(history: Sequence[Mapping[str, float]], attention: str) -> list[str]:
    """What to notice in a run, from its rows."""
    if not history:
        return []
    last = history[-1]
    first = next((row for row in history if row["val_word_accuracy"] >= TARGET), None)
    reached = (
        f" It passed {TARGET:.0%} of the words at epoch {int(first['epoch'])}, {first['time_s']:.0f} s into the run."
        if first
        else f" It has not reached {TARGET:.0%} of the words yet."
    )
    gap = last["val_forced_accuracy"] - last["val_word_accuracy"]
    lines = [
        f"After epoch {int(last['epoch'])}, on sentences whose number it never saw, the translator writes "
        f"**{last['val_word_accuracy']:.1%}** of the words right in their place and **{last['val_exact']:.1%}** of "
        f"the sentences exactly right.{reached}",
        f"With teacher forcing (the right French fed in, as in training and in Keras' accuracy) it gets "
        f"{last['val_forced_accuracy']:.1%} of the words, {abs(gap):.1%} "
        + ("more than when it reads its own words, whose mistakes carry forward." if gap >= 0 else "less."),
    ]
    if attention == NONE:
        lines.append(
            "Without attention the whole English sentence must pass through the encoder's last state: train again "
            f"with attention and compare the epoch at which each passes {TARGET:.0%}."
        )
    return lines
