"""An LSTM opened up: character tasks, a Keras LSTM trained on them live, and every gate of every
step recomputed from the layer's own weights.

Keras computes an LSTM's gates inside the layer and returns only its outputs. Here `run_cell`
recomputes them in NumPy from `kernel`, `recurrent_kernel` and `bias` (Keras' gate order i, f, c, o):

    z = x_t·W + h_{t−1}·U + b
    i = σ(z_i)   f = σ(z_f)   g = tanh(z_c)   o = σ(z_o)
    c_t = f ⊙ c_{t−1} + i ⊙ g      h_t = o ⊙ tanh(c_t)

The tests check that this reproduces Keras' own hidden and cell states; the same function steps the
model when it generates text. Every task reads a string one character at a time (one-hot) and emits
a distribution over its output classes at every step: the next character (names), or a label the
network can only give by remembering (bracket depth, the token k steps back, a running sum).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.pacing import keras_pace_callback, speed_control
from core.engine.params import Control, ControlBox, fixed_values, live_values
from core.shared import recurrent

LESSON = "lstm_gates"
TRAIN_RUN = "lstm_gates/train"
COMPARE_RUN = "lstm_gates/compare"
NAMES, BRACKETS, RECALL, ADDING = "names", "bracket depth", "recall k steps back", "add the marked digits"
TASKS = (NAMES, BRACKETS, RECALL, ADDING)
END = "."
LETTERS = "abcdefghijklmnopqrstuvwxyz"
MAX_DEPTH = 8
RECALL_TOKENS = "abcd"
NOTHING = "-"
MAX_INPUT = 120
SEQUENCES = 2000
TEST_SHARE = 0.1
GATES = ("input gate i", "forget gate f", "candidate g", "output gate o", "cell state c", "hidden state h")
SPEEDS = {"slow motion": 3.0, "steady": 15.0, "full speed": None}
"""Training batches per second."""
COMPARE_KINDS = ("LSTM", "GRU", "SimpleRNN")
COMPARE_CONTROLS = recurrent.TIME_CONTROLS
COMPARE_BOX = ControlBox("time", "Long-range task", COMPARE_CONTROLS)
"""The long-range race is the vanishing-gradients lesson's marked recall, with a GRU added."""


@dataclass(frozen=True)
class SequenceTask:
    """Strings of one task, encoded: inputs (N, T) and targets (N, T) as class indices."""

    name: str
    inputs: str
    outputs: tuple[str, ...]
    x: np.ndarray
    y: np.ndarray
    about: str

    @property
    def generative(self) -> bool:
        return self.name == NAMES

    def one_hot(self, ids: np.ndarray) -> np.ndarray:
        return np.eye(len(self.inputs), dtype="float32")[ids]

    def split(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        n_test = max(1, int(len(self.x) * TEST_SHARE))
        return (self.x[n_test:], self.y[n_test:]), (self.x[:n_test], self.y[:n_test])


@functools.lru_cache(maxsize=1)
def census_first_names() -> tuple[str, ...]:
    """The 1990 US census first names shipped in the `names` package (read from its data files, so
    nothing is downloaded), lower case, most frequent first within each list."""
    folder = pathlib.Path(importlib.util.find_spec("names").origin).parent
    found = []
    for part in ("dist.female.first", "dist.male.first"):
        for line in (folder / part).read_text().splitlines():
            name = line.split()[0].lower() if line.strip() else ""
            if name.isalpha() and name not in found:
                found.append(name)
    return tuple(found)


def _names(length: int, rng: np.random.Generator) -> SequenceTask:
    names = list(census_first_names())
    rng.shuffle(names)
    text = END + END.join(names) + END
    alphabet = END + LETTERS
    ids = np.array([alphabet.index(ch) for ch in text])
    n = min(SEQUENCES, (len(ids) - 1) // length)
    starts = np.arange(n) * length
    x = np.stack([ids[s : s + length] for s in starts])
    y = np.stack([ids[s + 1 : s + length + 1] for s in starts])
    return SequenceTask(
        NAMES,
        alphabet,
        tuple(alphabet),
        x,
        y,
        f"{len(names):,} first names from the US census (the `names` package), joined by '{END}': after "
        "each character, guess the next one.",
    )


def bracket_depths(text: str) -> np.ndarray:
    """How many brackets are open after each character."""
    return np.cumsum([1 if ch == "(" else -1 if ch == ")" else 0 for ch in text])


def _brackets(length: int, rng: np.random.Generator) -> SequenceTask:
    alphabet = "()-"
    rows = []
    for _ in range(SEQUENCES):
        depth, row = 0, []
        for _ in range(length):
            choice = rng.random()
            if choice < 0.4 and depth < MAX_DEPTH:
                row.append("(")
                depth += 1
            elif choice < 0.75 and depth > 0:
                row.append(")")
                depth -= 1
            else:
                row.append("-")
        rows.append("".join(row))
    x = np.array([[alphabet.index(ch) for ch in row] for row in rows])
    y = np.stack([bracket_depths(row) for row in rows])
    return SequenceTask(
        BRACKETS,
        alphabet,
        tuple(str(d) for d in range(MAX_DEPTH + 1)),
        x,
        y,
        f"Strings of '(', ')' and '-' (never more than {MAX_DEPTH} open): after each character, say how "
        "many brackets are open.",
    )


def _recall(length: int, distance: int, rng: np.random.Generator) -> SequenceTask:
    alphabet = RECALL_TOKENS
    x = rng.integers(0, len(alphabet), size=(SEQUENCES, length))
    outputs = (NOTHING, *alphabet)
    y = np.zeros_like(x)
    y[:, distance:] = x[:, : length - distance] + 1
    return SequenceTask(
        RECALL,
        alphabet,
        outputs,
        x,
        y,
        f"Random strings of {', '.join(alphabet)}: at each step, say the letter seen {distance} steps "
        f"earlier ('{NOTHING}' before there is one).",
    )


def _adding(length: int, rng: np.random.Generator) -> SequenceTask:
    alphabet = "0123456789+"
    x = rng.integers(0, 10, size=(SEQUENCES, length))
    y = np.zeros_like(x)
    for row, target in zip(x, y):
        first = int(rng.integers(1, length - 2))
        second = int(rng.integers(first + 2, length))
        for mark in (first, second):
            row[mark - 1] = alphabet.index("+")  # '+' marks the digit that follows it
            target[mark:] += row[mark]
    return SequenceTask(
        ADDING,
        alphabet,
        tuple(str(s) for s in range(19)),
        x,
        y,
        "Random digits, two of them marked by a '+' just before: after each character, say the sum of "
        "the marked digits so far.",
    )


@functools.lru_cache(maxsize=8)
def make_task(name: str, length: int, distance: int = 5, seed: int = 0) -> SequenceTask:
    """A task's strings, made once per setting (pages ask for them on every rerun)."""
    rng = np.random.default_rng(seed)
    if name == NAMES:
        return _names(length, rng)
    if name == BRACKETS:
        return _brackets(length, rng)
    if name == RECALL:
        return _recall(length, distance, rng)
    if name == ADDING:
        return _adding(length, rng)
    raise ValueError(f"unknown task {name!r}")


TRAIN_CONTROLS = (
    Control("task", "Task", "select", NAMES, options=TASKS),
    Control("units", "Hidden units", "select", 32, options=(4, 8, 16, 32, 64, 128)),
    Control("length", "Sequence length", "select", 24, options=(8, 12, 16, 24, 32, 48, 64)),
    Control(
        "recall_k",
        "k (recall task)",
        "select",
        3,
        options=tuple(range(1, 21)),
        help="For 'recall k steps back': how many steps back the answer lies.",
    ),
    Control("epochs", "Epochs", "int", 30, min=1, max=500),
    Control("seed", "Seed", "int", 0, min=0, max=9999),
    Control(
        "clipping",
        "Gradient clipping (global norm)",
        "select",
        "1",
        options=("none", "0.1", "1", "5"),
        help="Scale each update down so the gradient's norm is at most this: recurrent gradients can explode.",
    ),
    Control("learning_rate", "Learning rate (Adam)", "select", 0.01, options=(0.001, 0.003, 0.01, 0.03), live=True),
    speed_control(SPEEDS, unit="batches"),
)
TRAIN_BOX = ControlBox("train", "Task and network", TRAIN_CONTROLS)


def build_model(kind: str, n_inputs: int, n_outputs: int, units: int, seed: int):
    """One-hot characters in (any length), a recurrent layer over every step, class logits out."""
    from core.engine.backend import load_keras

    keras = load_keras()
    keras.utils.set_random_seed(int(seed))  # thread-local: call in the thread that trains
    layer = getattr(keras.layers, kind)(int(units), return_sequences=True, name="recurrent")
    return keras.Sequential(
        [keras.Input((None, n_inputs)), layer, keras.layers.Dense(n_outputs, name="output")], name=kind.lower()
    )


def compile_model(model, learning_rate: float, clipping: str) -> None:
    from core.engine.backend import load_keras

    keras = load_keras()
    clip = None if clipping == "none" else float(clipping)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=clip),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def run_cell(
    x: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Every gate of every step for inputs x (T, n_in), from an LSTM layer's weights: (T, units)
    arrays named as GATES, computed as Keras does (gate order i, f, c, o)."""
    units = recurrent_kernel.shape[0]
    h = np.zeros(units) if h0 is None else h0.astype("float64")
    c = np.zeros(units) if c0 is None else c0.astype("float64")
    kernel, recurrent_kernel, bias = (np.asarray(a, dtype="float64") for a in (kernel, recurrent_kernel, bias))
    rows = {name: [] for name in GATES}
    for x_t in np.asarray(x, dtype="float64"):
        z = x_t @ kernel + h @ recurrent_kernel + bias
        i, f = sigmoid(z[:units]), sigmoid(z[units : 2 * units])
        g, o = np.tanh(z[2 * units : 3 * units]), sigmoid(z[3 * units :])
        c = f * c + i * g
        h = o * np.tanh(c)
        for name, value in zip(GATES, (i, f, g, o, c, h)):
            rows[name].append(value)
    return {name: np.array(values).reshape(len(values), units) for name, values in rows.items()}


@dataclass
class Weights:
    """An LSTM model's weights as NumPy arrays: the recurrent layer's and the output layer's."""

    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray
    output_kernel: np.ndarray
    output_bias: np.ndarray

    @classmethod
    def of(cls, model) -> Weights:
        return cls(*(np.asarray(w) for w in model.get_weights()))

    @property
    def units(self) -> int:
        return self.recurrent_kernel.shape[0]


def probabilities(weights: Weights, gates: Mapping[str, np.ndarray]) -> np.ndarray:
    """(T, classes): the output layer's softmax at every step, from the hidden states."""
    logits = gates["hidden state h"] @ weights.output_kernel + weights.output_bias
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def encode(task: SequenceTask, text: str) -> tuple[np.ndarray, list[str]]:
    """A typed string as one-hot rows, and notes on what was changed; ValueError with a reason a
    student can act on (empty, too long, characters the task never saw)."""
    notes = []
    if task.name == NAMES and text != text.lower():
        text = text.lower()
        notes.append("Upper case was lowered: the names were learned in lower case.")
    if not text:
        raise ValueError("Type at least one character.")
    if len(text) > MAX_INPUT:
        raise ValueError(f"That is {len(text)} characters; the inspector reads at most {MAX_INPUT}.")
    unknown = sorted(set(text) - set(task.inputs))
    if unknown:
        shown = ", ".join(repr(ch) for ch in unknown[:8])
        raise ValueError(
            f"This task never saw {shown}: use only {' '.join(task.inputs)}"
            + (f" ('{END}' separates names)" if task.name == NAMES else "")
            + "."
        )
    return task.one_hot(np.array([task.inputs.index(ch) for ch in text])), notes


def sample(
    task: SequenceTask, weights: Weights, prefix: str, n: int, temperature: float, rng: np.random.Generator
) -> tuple[str, np.ndarray]:
    """Generate n characters after `prefix` (it sets the state), one step of the cell at a time;
    returns the text and the next-character distribution at each generated step (n, V)."""
    x, _ = encode(task, prefix)
    gates = run_cell(x, weights.kernel, weights.recurrent_kernel, weights.bias)
    h, c = gates["hidden state h"][-1], gates["cell state c"][-1]
    out, distributions = [], []
    for _ in range(n):
        logits = (h @ weights.output_kernel + weights.output_bias) / max(temperature, 1e-3)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        k = int(rng.choice(len(p), p=p))
        distributions.append(p)
        out.append(task.outputs[k])
        step = run_cell(task.one_hot(np.array([k])), weights.kernel, weights.recurrent_kernel, weights.bias, h, c)
        h, c = step["hidden state h"][-1], step["cell state c"][-1]
    return "".join(out), np.array(distributions)


def generated_names(
    task: SequenceTask, weights: Weights, seed: int, count: int = 6, temperature: float = 0.8
) -> list[str]:
    """A few names the model makes up now (from the start marker, up to each end marker)."""
    text, _ = sample(task, weights, END, 12 * count, temperature, np.random.default_rng(seed))
    return [name for name in text.split(END) if name][:count]


def labelled_example(task: SequenceTask, weights: Weights, index: int = 0) -> dict[str, list[str]]:
    """One test string with the right labels and the model's, step by step."""
    (_, _), (x_test, y_test) = task.split()
    gates = run_cell(task.one_hot(x_test[index]), weights.kernel, weights.recurrent_kernel, weights.bias)
    predicted = probabilities(weights, gates).argmax(axis=1)
    return {
        "input": [task.inputs[i] for i in x_test[index]],
        "target": [task.outputs[i] for i in y_test[index]],
        "model": [task.outputs[i] for i in predicted],
    }


@dataclass(frozen=True)
class LstmSnapshot:
    """The LSTM in training: its weights (the gates are recomputed from them), and for a generative
    task names it makes up, for a labelled one a held-out string with its answers."""

    epoch: int
    weights: Weights
    task: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    about: str
    initial_loss: float
    """The held-out loss before training."""
    samples: list[str] | None = None
    example: dict[str, list[str]] | None = None


def snapshot_of(task: SequenceTask, model, epoch: int, seed: int, initial_loss: float) -> LstmSnapshot:
    weights = Weights.of(model)
    return LstmSnapshot(
        epoch=epoch,
        weights=weights,
        task=task.name,
        inputs=task.inputs,
        outputs=task.outputs,
        about=task.about,
        initial_loss=initial_loss,
        samples=generated_names(task, weights, seed + epoch) if task.generative else None,
        example=None if task.generative else labelled_example(task, weights),
    )


def guessing_loss(task: SequenceTask) -> float:
    """ln(number of output classes): the loss per character of a uniform guess."""
    return math.log(len(task.outputs))


def task_of(config: Mapping[str, Any]) -> SequenceTask:
    return make_task(config["task"], int(config["length"]), int(config["recall_k"]), int(config["seed"]))


@task_factory
def train_task(config: Mapping[str, Any]) -> TrainingTask:
    fixed, live = fixed_values(TRAIN_CONTROLS, config), live_values(TRAIN_CONTROLS, config)

    def train(ctx: TrainingContext):
        task = task_of(fixed)
        (x, y), (x_test, y_test) = task.split()
        model = build_model("LSTM", len(task.inputs), len(task.outputs), fixed["units"], fixed["seed"])
        compile_model(model, float(live["learning_rate"]), fixed["clipping"])
        initial = model.evaluate(task.one_hot(x_test), y_test, verbose=0, return_dict=True)
        ctx.replace_snapshot(snapshot_of(task, model, 0, fixed["seed"], initial["loss"]))

        def snapshot(current_model, epoch):
            return snapshot_of(task, current_model, epoch, fixed["seed"], initial["loss"])

        model.fit(
            task.one_hot(x),
            y,
            batch_size=32,
            epochs=ctx.epochs,
            verbose=0,
            validation_data=(task.one_hot(x_test), y_test),
            callbacks=[ctx.keras_callback(snapshot, 0.3), keras_pace_callback(ctx, SPEEDS)],
        )
        return {"weights": Weights.of(model)}

    return TrainingTask(run=TRAIN_RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


def unit_correlations(cells: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson r between each unit's cell state (T, units) and a property of each step (T,); 0 where
    either does not vary."""
    centred = cells - cells.mean(axis=0)
    wanted = target - target.mean()
    scale = np.sqrt((centred**2).sum(axis=0) * (wanted**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = centred.T @ wanted / scale
    return np.nan_to_num(r)


def position_in_word(text: str, separators: str = END + " -+()") -> np.ndarray:
    """Characters since the last separator (1 for a word's first letter, 0 on a separator)."""
    out, count = [], 0
    for ch in text:
        count = 0 if ch in separators else count + 1
        out.append(count)
    return np.array(out)


def is_vowel(text: str) -> np.ndarray:
    return np.array([ch in "aeiouy" for ch in text], dtype=float)


def marked_sum(text: str) -> np.ndarray:
    """The adding task's running sum: digits that follow a '+'."""
    return np.cumsum([int(ch) if ch.isdigit() and t and text[t - 1] == "+" else 0 for t, ch in enumerate(text)])


PROPERTIES = {
    "bracket depth": bracket_depths,
    "position in word": position_in_word,
    "is a vowel": is_vowel,
    "sum of the marked digits so far": marked_sum,
}
NATURAL_PROPERTY = {
    NAMES: "position in word",
    BRACKETS: "bracket depth",
    RECALL: "position in word",
    ADDING: "sum of the marked digits so far",
}
"""The property each task's units are most likely to track: the finder starts there."""


@task_factory
def compare_task(config: Mapping[str, Any]) -> TrainingTask:
    return recurrent.time_task(config, COMPARE_RUN, COMPARE_KINDS)
