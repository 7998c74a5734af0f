"""Self-attention opened up: a one-layer Transformer encoder trained live on a digit-string task
whose right attention is obvious, and its attention recomputed step by step.

Reversing a string: output position i must copy input position L−1−i, so a head that has learned the
task attends from i to its mirror. Sorting: each output position needs the whole string. A causal
mask (position i may look only at positions ≤ i) makes reversal impossible for the first half of the
string, which the accuracy then shows.

`attention_steps` recomputes one head's weights from the Keras MultiHeadAttention layer's own query
and key weights: Q·Kᵀ, scaled by √d, masked, softmaxed; the tests check it against the layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.pacing import keras_pace_callback, speed_control
from core.engine.params import Control, ControlBox, fixed_values, live_values

TRANSFORMER_RUN = "attention/transformer"
TASKS = ("reverse", "sort")
DIGITS = 10
MODEL_SIZE, HEADS, KEY_SIZE = 32, 2, 16
STRINGS, HELD_OUT = 6000, 500
SPEEDS = {"slow motion": 4.0, "steady": 20.0, "full speed": None}
"""Training batches per second."""

TRANSFORMER_CONTROLS = (
    Control("task", "Task", "select", "reverse", options=TASKS, was="toy_task"),
    Control("length", "String length", "select", 8, options=(4, 6, 8, 10, 12), was="toy_length"),
    Control(
        "causal",
        "Causal mask",
        "toggle",
        False,
        help="Each position may attend only to itself and earlier positions, as in a language model's decoder.",
    ),
    Control("epochs", "Epochs", "int", 30, min=1, max=300, was="toy_epochs"),
    Control("seed", "Seed", "int", 0, min=0, max=9999, was="toy_seed"),
    Control(
        "learning_rate",
        "Learning rate (Adam)",
        "select",
        0.003,
        options=(0.001, 0.003, 0.01),
        live=True,
        was="toy_learning_rate",
    ),
    speed_control(SPEEDS, unit="batches", was="toy_speed"),
)
TRANSFORMER_BOX = ControlBox("toy", "Toy Transformer", TRANSFORMER_CONTROLS)


def make_strings(task: str, length: int, seed: int, n: int = STRINGS + HELD_OUT) -> tuple[np.ndarray, np.ndarray]:
    """Random digit strings and their targets: reversed, or sorted."""
    x = np.random.default_rng(seed).integers(0, DIGITS, size=(n, length))
    return x, (x[:, ::-1] if task == "reverse" else np.sort(x, axis=1)).copy()


def build_models(length: int, causal: bool, seed: int, key_size: int = KEY_SIZE):
    """A one-layer Transformer encoder (token + position embeddings, multi-head self-attention and a
    feed-forward block, each with a residual connection and layer normalisation) with a digit's logits
    at every position; and a probe over the same layers returning the attention's input and weights."""
    from core.engine.backend import load_keras

    keras = load_keras()
    layers = keras.layers
    keras.utils.set_random_seed(int(seed))  # thread-local: call in the thread that trains
    tokens = keras.Input((length,), dtype="int32", name="digits")
    positions = layers.Lambda(lambda t: keras.ops.broadcast_to(keras.ops.arange(length), keras.ops.shape(t)))(tokens)
    x = layers.Add(name="embed")(
        [
            layers.Embedding(DIGITS, MODEL_SIZE, name="token_embedding")(tokens),
            layers.Embedding(length, MODEL_SIZE, name="position_embedding")(positions),
        ]
    )
    attention = layers.MultiHeadAttention(HEADS, key_size, name="self_attention")
    attended, weights = attention(x, x, return_attention_scores=True, use_causal_mask=causal)
    h = layers.LayerNormalization(name="norm_1")(layers.Add()([x, attended]))
    feed = layers.Dense(MODEL_SIZE, name="feed_forward_out")(
        layers.Dense(2 * MODEL_SIZE, activation="relu", name="feed_forward_in")(h)
    )
    h = layers.LayerNormalization(name="norm_2")(layers.Add()([h, feed]))
    logits = layers.Dense(DIGITS, name="output")(h)
    return keras.Model(tokens, logits, name="transformer"), keras.Model(tokens, [x, weights], name="attention_probe")


def compile_model(model, learning_rate: float) -> None:
    from core.engine.backend import load_keras

    keras = load_keras()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def attention_steps(model, embedded: np.ndarray, head: int, causal: bool) -> dict[str, np.ndarray]:
    """One head's attention for one string (embedded: (L, d)), step by step, from the layer's query
    and key weights: Q, K, the scores Q·Kᵀ, scaled by √d, masked (−∞ above the diagonal when causal)
    and softmaxed. d is the layer's own key size, read from the layer."""
    layer = model.get_layer("self_attention")
    key_size = layer.get_config()["key_dim"]
    wq, bq = (np.asarray(v) for v in layer._query_dense.weights)
    wk, bk = (np.asarray(v) for v in layer._key_dense.weights)
    q = embedded @ wq[:, head, :] + bq[head]
    k = embedded @ wk[:, head, :] + bk[head]
    scores = q @ k.T
    scaled = scores / np.sqrt(key_size)
    masked = np.where(np.tril(np.ones_like(scaled)) > 0, scaled, -np.inf) if causal else scaled
    shifted = np.exp(masked - masked.max(axis=1, keepdims=True))
    return {
        "Q": q,
        "K": k,
        "Q·Kᵀ": scores,
        "÷ √d": scaled,
        "masked": masked,
        "softmax": shifted / shifted.sum(axis=1, keepdims=True),
    }


def mirror_share(weights: np.ndarray) -> float:
    """Of the attention (heads, L, L), the largest share any head gives, on average over positions,
    to each position's mirror (L−1−i): 1 for a head that only looks there."""
    length = weights.shape[-1]
    mirror = weights[:, np.arange(length), np.arange(length)[::-1]]
    return float(mirror.mean(axis=1).max())


@dataclass(frozen=True)
class TransformerSnapshot:
    """The toy Transformer after an epoch, on one held-out string: its answer, every head's attention,
    and head 0's attention recomputed step by step."""

    epoch: int
    task: str
    example: np.ndarray
    output: np.ndarray
    weights: np.ndarray
    """(heads, L, L): each head's attention weights."""
    steps: dict[str, np.ndarray]
    """Head 0 recomputed (`attention_steps`): Q, K, the scores Q·Kᵀ, scaled, masked and softmaxed."""


def snapshot_of(model, probe, x_example: np.ndarray, epoch: int, causal: bool, task: str) -> TransformerSnapshot:
    embedded, weights = (np.asarray(a) for a in probe.predict_on_batch(x_example[None]))
    return TransformerSnapshot(
        epoch=epoch,
        task=task,
        example=x_example,
        output=np.asarray(model.predict_on_batch(x_example[None]))[0].argmax(-1),
        weights=weights[0],
        steps=attention_steps(model, embedded[0], 0, causal),
    )


@task_factory
def transformer_task(config: Mapping[str, Any]) -> TrainingTask:
    fixed, live = fixed_values(TRANSFORMER_CONTROLS, config), live_values(TRANSFORMER_CONTROLS, config)

    def train(ctx: TrainingContext):
        x, y = make_strings(fixed["task"], int(fixed["length"]), int(fixed["seed"]))
        model, probe = build_models(int(fixed["length"]), bool(fixed["causal"]), fixed["seed"])
        compile_model(model, float(live["learning_rate"]))
        example = x[-1]

        def snapshot(current, epoch):
            return snapshot_of(current, probe, example, epoch, bool(fixed["causal"]), fixed["task"])

        ctx.replace_snapshot(snapshot(model, 0))
        model.fit(
            x[:STRINGS],
            y[:STRINGS],
            batch_size=64,
            epochs=ctx.epochs,
            verbose=0,
            validation_data=(x[STRINGS:], y[STRINGS:]),
            callbacks=[ctx.keras_callback(snapshot, 0.3), keras_pace_callback(ctx, SPEEDS)],
        )

    return TrainingTask(run=TRANSFORMER_RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)
