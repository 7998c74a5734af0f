"""Text generation, trained live: a character-level LSTM (Karpathy, "The Unreasonable Effectiveness of Recurrent
Neural Networks", 2015) learns to continue text one character at a time, and writes a sample after every epoch.

The texts: the news stories of the Lee corpus that gensim ships (always there), or, where Debian's `fortunes`
package is installed, its Star Trek quotes, each with its speaker, episode and stardate (a script in miniature).
The last tenth of each text is held out: the model's perplexity there (e to the mean cross-entropy per character:
the number of characters it is as unsure as choosing among) is compared with the unigram model's, which knows only
how common each character is.

Training reads windows of WINDOW characters and predicts each next one. Writing, the same weights run one
character at a time in a step model (`keras.layers.LSTM` with its state passed in and out): the primer sets the
state, then each character is drawn from softmax(logits / temperature) and fed back. As the temperature goes to 0
the draw becomes the likeliest character (argmax); at 1 it is the model's own distribution; above 1, flatter.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.loop import MiniBatchLoop
from core.engine.pacing import speed_control
from core.engine.params import Control, ControlBox, fixed_values, live_values
from core.lessons.sequence_models.common import LEARNING_RATE, SEED, train_live
from core.shared.gensimdata import lee_texts

RUN = "sequence_models/generation"
NEWS, STAR_TREK = "news stories (gensim's Lee corpus)", "Star Trek quotes (Debian's fortunes)"
TEXTS = (NEWS, STAR_TREK)
STAR_TREK_FILE = Path("/usr/share/games/fortunes/startrek")
PRIMERS = {NEWS: "The Prime Minister", STAR_TREK: "Captain"}
WINDOW = 64
EMBEDDING = 32
BATCH = 64
HELD_OUT = 0.1
SAMPLE_LENGTH = 240
SAMPLE_TEMPERATURE = 0.7
"""Each epoch's sample: this many characters after the text's primer, at this temperature, from one fixed seed."""
MAX_PRIMER = 200
SPEEDS = {"slow motion": 0.2, "steady": 0.5, "full speed": None}
"""Epochs per second."""
MAX_CHUNK = 1
METRICS = ("loss", "val_loss", "perplexity", "val_perplexity")

CONTROLS = (
    Control(
        "text",
        "Text",
        "select",
        NEWS,
        options=TEXTS,
        help="News: 300 stories from the Australian Broadcasting Corporation (360,000 characters). Star Trek: 227 "
        "quotes with their speaker, episode and stardate (30,000 characters), where Debian's fortunes is installed.",
    ),
    Control("units", "LSTM units", "select", 128, options=(64, 128, 256)),
    Control("epochs", "Epochs", "int", 20, min=1, max=200),
    SEED,
    LEARNING_RATE,
    speed_control(SPEEDS),
)
BOX = ControlBox("generation", "Text generator", CONTROLS, flat=False)


class MissingText(RuntimeError):
    """The chosen text is not installed; the message says how to install it."""


class BadPrimer(ValueError):
    """A primer the model cannot read; the message names what is wrong."""


def star_trek_quotes(raw: str) -> list[str]:
    """fortune's format (quotes separated by lines of '%') as quotes of one paragraph each, the attribution on its
    own line ('-- Kirk, "Catspaw", stardate 3018.2')."""
    quotes = []
    for block in raw.split("\n%\n"):
        lines = [line.strip() for line in block.strip("%\n").splitlines() if line.strip()]
        said, credit = [], []
        for line in lines:
            (credit if credit or line.startswith("--") else said).append(line)
        if said:
            quotes.append(" ".join(said) + ("\n" + " ".join(credit) if credit else ""))
    return quotes


@functools.lru_cache(maxsize=2)
def read_text(name: str) -> str:
    """The chosen text as one string: news stories one per line, quotes separated by blank lines."""
    if name == NEWS:
        return "\n".join(lee_texts())
    if not STAR_TREK_FILE.is_file():
        raise MissingText(
            "The Star Trek quotes come from Debian's `fortunes` package, which this server lacks "
            "(`apt-get install fortunes`, or `packages.txt` on Streamlit Community Cloud). The news stories need "
            "nothing."
        )
    return "\n\n".join(star_trek_quotes(STAR_TREK_FILE.read_text(encoding="utf-8", errors="replace")))


def available_texts() -> tuple[str, ...]:
    return tuple(name for name in TEXTS if name == NEWS or STAR_TREK_FILE.is_file())


@dataclass(frozen=True)
class CharacterText:
    """A text as character ids: the vocabulary (every character in it), and training and held-out windows of
    WINDOW characters, each with the next WINDOW characters (shifted by one) to predict."""

    name: str
    characters: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    unigram_perplexity: float
    """e to the held-out cross-entropy of each character's training frequency (add-one smoothed)."""

    @functools.cached_property
    def index(self) -> dict[str, int]:
        return {ch: i for i, ch in enumerate(self.characters)}


def _windows(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = (len(ids) - 1) // WINDOW
    x = ids[: n * WINDOW].reshape(n, WINDOW)
    y = ids[1 : n * WINDOW + 1].reshape(n, WINDOW)
    return x, y


@functools.lru_cache(maxsize=2)
def character_text(name: str) -> CharacterText:
    text = read_text(name)
    characters = "".join(sorted(set(text)))
    index = {ch: i for i, ch in enumerate(characters)}
    ids = np.array([index[ch] for ch in text], dtype="int32")
    split = int(len(ids) * (1 - HELD_OUT))
    counts = np.bincount(ids[:split], minlength=len(characters)) + 1.0
    held = ids[split:]
    unigram = float(np.exp(-np.mean(np.log(counts[held] / counts.sum()))))
    return CharacterText(name, characters, *_windows(ids[:split]), *_windows(held), unigram)


def build_model(characters: int, units: int, step: bool = False):
    """The LSTM over a window of characters (logits for each next one), or with `step` its one-character twin
    whose state goes in and out: the same layers in the same order, so the same weights fit both."""
    from core.engine.backend import load_keras

    keras = load_keras()
    layers = keras.layers
    length = 1 if step else WINDOW
    ids = keras.Input((length,), dtype="int32", name="characters")
    embedded = layers.Embedding(characters, EMBEDDING, name="embedding")(ids)
    if not step:
        read = layers.LSTM(units, return_sequences=True, name="lstm")(embedded)
        return keras.Model(ids, layers.Dense(characters, name="next_character")(read), name="generator")
    h, c = keras.Input((units,), name="h"), keras.Input((units,), name="c")
    out, new_h, new_c = layers.LSTM(units, return_state=True, name="lstm")(embedded, initial_state=[h, c])
    logits = layers.Dense(characters, name="next_character")(out)
    return keras.Model([ids, h, c], [logits, new_h, new_c], name="generator_step")


def cross_entropy(logits, labels):
    import jax
    import jax.numpy as jnp

    picked = jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), labels[..., None], axis=-1)
    return -jnp.mean(picked)


class GeneratorLoop(MiniBatchLoop):
    def __init__(self, text: CharacterText, units: int, seed: int):
        from core.engine.backend import load_keras

        keras = load_keras()
        keras.utils.set_random_seed(int(seed))
        model = build_model(len(text.characters), units)
        optimizer = keras.optimizers.Adam(0.005)
        optimizer.build(model.trainable_variables)
        self.x_test, self.y_test = text.x_test, text.y_test
        super().__init__(model, optimizer, text.x_train, text.y_train, BATCH, seed, MAX_CHUNK, (len(METRICS),))

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        logits, non_trainable = self.model.stateless_call(trainable, non_trainable, x)
        return cross_entropy(logits, y), non_trainable

    def epoch_row(self, trainable, non_trainable, batch_losses):
        import jax.numpy as jnp

        logits, _ = self.model.stateless_call(trainable, non_trainable, jnp.asarray(self.x_test))
        loss, held = jnp.mean(batch_losses), cross_entropy(logits, jnp.asarray(self.y_test))
        return jnp.stack([loss, held, jnp.exp(loss), jnp.exp(held)])

    def weights(self) -> list[np.ndarray]:
        return [np.asarray(v) for v in self.state[0]]


@functools.lru_cache(maxsize=8)
def _writer(characters: int, units: int):
    """The step model and its jitted writer for one vocabulary and size (the snapshot's weights are passed in)."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    model = build_model(characters, units, step=True)
    non_trainable = [v.value for v in model.non_trainable_variables]

    def step(weights, state, character):
        h, c = state
        (logits, h, c), _ = model.stateless_call(weights, non_trainable, [character.reshape(1, 1), h, c])
        return (h, c), logits[0]

    @functools.partial(jax.jit, static_argnames="length")
    def write(weights, primer, primer_length, length, temperature, key):
        zeros = jnp.zeros((1, units))

        def read(carry, position):
            state, logits = carry
            new_state, new_logits = step(weights, state, primer[position])
            keep = position < primer_length  # the primer is padded to one length: one compile
            return (
                jax.tree_util.tree_map(lambda a, b: jnp.where(keep, a, b), new_state, state),
                jnp.where(keep, new_logits, logits),
            ), None

        (state, logits), _ = lax.scan(read, ((zeros, zeros), jnp.zeros(characters)), jnp.arange(primer.shape[0]))

        def write_one(carry, key):
            state, logits = carry
            probabilities = jax.nn.softmax(logits / temperature)
            character = jax.random.categorical(key, logits / temperature).astype("int32")
            state, logits = step(weights, state, character)
            return (state, logits), (character, probabilities)

        _, (written, probabilities) = lax.scan(write_one, (state, logits), jax.random.split(key, length))
        return written, probabilities

    return model, write


@dataclass(frozen=True)
class Written:
    text: str
    probabilities: np.ndarray
    """(characters written, vocabulary): the distribution each character was drawn from."""


MIN_TEMPERATURE = 1e-3
"""Temperatures are floored here: logits / 1e-3 already make the draw the argmax in practice."""


def write(
    text: CharacterText,
    units: int,
    weights: Sequence[np.ndarray],
    primer: str,
    length: int,
    temperature: float,
    seed: int,
) -> Written:
    """`length` characters after `primer`, drawn at `temperature` (from `seed`)."""
    import jax

    ids = encode_primer(primer, text)
    padded = np.zeros(MAX_PRIMER, dtype="int32")
    padded[: len(ids)] = ids
    _, writer = _writer(len(text.characters), int(units))
    written, probabilities = writer(
        list(weights), padded, len(ids), int(length), max(float(temperature), MIN_TEMPERATURE), jax.random.PRNGKey(seed)
    )
    return Written("".join(text.characters[i] for i in np.asarray(written)), np.asarray(probabilities, "float64"))


def encode_primer(primer: str, text: CharacterText) -> np.ndarray:
    """The primer as character ids; BadPrimer names the characters the text never uses, or says it is empty or
    too long."""
    if not primer:
        raise BadPrimer("Type a few characters for the model to continue, e.g. 'The '.")
    if len(primer) > MAX_PRIMER:
        raise BadPrimer(f"That is {len(primer):,} characters; the model reads at most {MAX_PRIMER} to start from.")
    unknown = sorted(set(primer) - set(text.characters))
    if unknown:
        shown = ", ".join(repr(ch) for ch in unknown[:8])
        raise BadPrimer(f"The text never uses {shown}{' and more' if len(unknown) > 8 else ''}: leave them out.")
    return np.array([text.index[ch] for ch in primer], dtype="int32")


@dataclass(frozen=True)
class GeneratorSnapshot:
    epoch: int
    text: str
    units: int
    weights: list[np.ndarray]
    samples: tuple[tuple[int, str], ...]
    """(epoch, the sample written after it), from the first epoch on: the same primer, temperature and seed."""


@task_factory
def task(config: Mapping[str, Any]) -> TrainingTask:
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)

    def train(ctx: TrainingContext):
        text = character_text(fixed["text"])
        units = int(fixed["units"])
        loop = GeneratorLoop(text, units, int(fixed["seed"]))
        samples = []

        def snapshot(epochs: int) -> GeneratorSnapshot:
            weights = loop.weights()
            if epochs and (not samples or samples[-1][0] != epochs):
                sample = write(
                    text, units, weights, PRIMERS[text.name], SAMPLE_LENGTH, SAMPLE_TEMPERATURE, int(fixed["seed"])
                )
                samples.append((epochs, sample.text))
            return GeneratorSnapshot(epochs, text.name, units, weights, tuple(samples))

        train_live(ctx, loop, METRICS, snapshot, SPEEDS, MAX_CHUNK)

    return TrainingTask(run=RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


def shown_character(ch: str) -> str:
    """A character as a chart label: space and line break made visible."""
    return {" ": "␣", "\n": "␤", "\t": "⇥"}.get(ch, ch)


def top_choices(probabilities: np.ndarray, text: CharacterText, k: int = 10) -> tuple[list[str], np.ndarray]:
    """The k likeliest characters of one step's distribution (labels as shown) and their probabilities."""
    order = np.argsort(probabilities)[::-1][:k]
    return [shown_character(text.characters[i]) for i in order], probabilities[order]


WORD = re.compile(r"[A-Za-z]+")


def real_word_share(sample: str, text: CharacterText) -> float:
    """The share of a sample's words (runs of letters) that occur in the text: how much of what it writes is
    spelled like the text, a number that rises as it learns."""
    known = _known_words(text.name)
    found = WORD.findall(sample)
    return float(np.mean([w.lower() in known for w in found])) if found else 0.0


@functools.lru_cache(maxsize=2)
def _known_words(name: str) -> frozenset[str]:
    return frozenset(w.lower() for w in WORD.findall(read_text(name)))


def findings(history: Sequence[Mapping[str, float]], shot: GeneratorSnapshot | None) -> list[str]:
    if not history or shot is None or not shot.samples:
        return []
    text = character_text(shot.text)
    last = history[-1]
    lines = [
        f"After epoch {int(last['epoch'])} the model's held-out perplexity is **{last['val_perplexity']:.2f}**: "
        f"as unsure of the next character as a choice among {last['val_perplexity']:.1f} equally likely ones. The "
        f"unigram model, which knows only how common each character is, scores {text.unigram_perplexity:.2f}."
    ]
    first, latest = shot.samples[0], shot.samples[-1]
    lines.append(
        f"Words spelled as in the text: {real_word_share(first[1], text):.0%} of the sample after epoch {first[0]}, "
        f"{real_word_share(latest[1], text):.0%} after epoch {latest[0]}."
    )
    return lines
