"""The race through time that the vanishing-gradients and LSTM lessons share: recurrent networks of
several kinds, from one seed, learning to recall the sign of a marked input k steps back by SGD with
momentum (Adam would rescale each weight's step and hide how small the gradient is); the gradient of
the loss with respect to each step's input, against its distance from the end, shows a plain RNN's
memory fading geometrically while an LSTM's cell keeps a path open."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask
from core.engine.loop import MiniBatchLoop
from core.engine.pacing import speed_control, train_in_chunks
from core.engine.params import Control, fixed_values, live_values
from core.shared import deepnet

TIME_SPEEDS = {"slow motion": 2.0, "steady": 10.0, "full speed": None}
"""Epochs per second."""
RECURRENT_MOMENTUM = 0.9
CLIP_NORM = 1.0
SEQUENCE_LENGTH = 40
SEQUENCES = 2048
TEST_SEQUENCES = 512
RECURRENT_UNITS = 32
RECURRENT_BATCH = 64
RECURRENT_KINDS = ("SimpleRNN", "LSTM")
MAX_CHUNK = 64

TIME_CONTROLS = (
    Control(
        "distance",
        "Steps back to remember",
        "select",
        20,
        options=tuple(range(1, SEQUENCE_LENGTH + 1)),
        help=f"Each sequence has {SEQUENCE_LENGTH} inputs of ±1, one of them marked; the answer is the sign of the "
        "marked one, this many steps before the end.",
    ),
    Control(
        "forget_bias",
        "LSTM forget-gate bias",
        "select",
        1.0,
        options=(0.0, 1.0, 2.0, 3.0, 5.0),
        help="The forget gate's starting bias. Keras starts it at 1 (gate ≈ 0.73); a larger one starts the gate near "
        "1, "
        "so the cell carries its memory, and its gradient, further back.",
    ),
    Control("epochs", "Epochs", "int", 40, min=1, max=400, was="time_epochs"),
    Control("seed", "Seed", "int", 0, min=0, max=9999, was="time_seed"),
    Control(
        "learning_rate",
        "Learning rate (SGD, momentum 0.9)",
        "select",
        0.1,
        options=(0.01, 0.03, 0.1, 0.3),
        live=True,
        was="time_learning_rate",
    ),
    speed_control(TIME_SPEEDS, was="time_speed"),
)


def recall_data(distance: int, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of two channels: a value of ±1 at every step, and a marker that is 1 at the step
    `distance` steps before the end (distance 1 is the last step). The label is 1 where the marked
    value is +1."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, SEQUENCE_LENGTH, 2), dtype="float32")
    x[:, :, 0] = rng.choice(np.array([-1.0, 1.0], dtype="float32"), size=(n, SEQUENCE_LENGTH))
    x[:, SEQUENCE_LENGTH - distance, 1] = 1.0
    return x, (x[:, SEQUENCE_LENGTH - distance, 0] > 0).astype("int32")


def build_recurrent(kind: str, seed: int, forget_bias: float = 1.0):
    """A SimpleRNN, GRU or LSTM of RECURRENT_UNITS units reading the sequence, then one logit. Keras'
    defaults, except the LSTM's forget-gate bias (Keras' own is 1; gates are ordered i, f, c, o)."""
    from core.engine.backend import load_keras

    keras = load_keras()
    keras.utils.set_random_seed(int(seed))  # thread-local: call in the job's thread
    if kind == "SimpleRNN":
        layer = keras.layers.SimpleRNN(RECURRENT_UNITS, name="simple_rnn")
    elif kind == "GRU":
        layer = keras.layers.GRU(RECURRENT_UNITS, name="gru")
    else:
        bias = np.zeros(4 * RECURRENT_UNITS, dtype="float32")
        bias[RECURRENT_UNITS : 2 * RECURRENT_UNITS] = forget_bias
        layer = keras.layers.LSTM(
            RECURRENT_UNITS, unit_forget_bias=False, name="lstm", bias_initializer=keras.initializers.Constant(bias)
        )
    return keras.Sequential([keras.Input((SEQUENCE_LENGTH, 2)), layer, keras.layers.Dense(1, name="logit")], name=kind)


class RecallLoop(MiniBatchLoop):
    """One recurrent network on the shared jitted loop: SGD with momentum and gradient clipping (a
    recurrent network's gradient can also explode) on the recall sequences; rows of train loss,
    train accuracy, test loss and test accuracy."""

    def __init__(self, kind: str, data, seed: int, forget_bias: float):
        import jax
        import jax.numpy as jnp

        from core.engine.backend import load_keras

        keras = load_keras()
        model = build_recurrent(kind, seed, forget_bias)
        optimizer = keras.optimizers.SGD(learning_rate=0.1, momentum=RECURRENT_MOMENTUM, global_clipnorm=CLIP_NORM)
        optimizer.build(model.trainable_variables)
        (x, y), (x_test, y_test) = data
        super().__init__(model, optimizer, x, y, RECURRENT_BATCH, seed, MAX_CHUNK, (4,))
        self.x_test, self.y_test = jnp.asarray(x_test), jnp.asarray(y_test)

        @jax.jit
        def input_gradients(trainable, non_trainable):
            loss = lambda inputs: self.loss_and_logits(trainable, non_trainable, inputs, self.y_test)[0]
            per_input = jax.grad(loss)(self.x_test)
            return jnp.mean(jnp.abs(per_input[:, :, 0]), axis=0)[::-1] * TEST_SEQUENCES  # the last step first

        self._input_gradients = input_gradients

    def loss_and_logits(self, trainable, non_trainable, inputs, labels):
        logits, _ = self.model.stateless_call(trainable, non_trainable, inputs)
        return deepnet.mean_loss(labels, logits), logits

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        return self.loss_and_logits(trainable, non_trainable, x, y)[0], non_trainable

    def evaluate(self, trainable, non_trainable):
        import jax.numpy as jnp

        row = []
        for x, y in ((self.x, self.y), (self.x_test, self.y_test)):
            loss, logits = self.loss_and_logits(trainable, non_trainable, x, y)
            row += [loss, jnp.mean((logits[:, 0] > 0) == (y == 1))]
        return jnp.stack(row)

    def input_gradients(self) -> np.ndarray:
        """Mean |∂L/∂value| of one test sequence's loss, by distance from the end (the last step first)."""
        return np.asarray(self._input_gradients(self.state[0], self.state[1]))


class RecurrentPair:
    """Recurrent networks of each of `kinds` (a SimpleRNN and an LSTM here; the LSTM lesson adds a GRU)
    from the same seed, trained on the same data (`RecallLoop`). `run(n, lr)` trains n epochs of each
    (one jitted call per model); `input_gradients()` is, per model and per distance from the end, the
    mean |∂L/∂value| of one test sequence's loss."""

    def __init__(self, distance: int, seed: int, forget_bias: float = 1.0, kinds: tuple[str, ...] = RECURRENT_KINDS):
        self.distance = int(distance)
        data = recall_data(distance, seed, SEQUENCES), recall_data(distance, seed + 1, TEST_SEQUENCES)
        self.kinds = tuple(kinds)
        self.loops = [RecallLoop(kind, data, seed, forget_bias) for kind in self.kinds]
        self.epoch = 0
        self.initial_gradients = self.input_gradients()

    @property
    def models(self) -> list:
        return [loop.model for loop in self.loops]

    def run(self, n_epochs: int, learning_rate: float) -> np.ndarray:
        """(n, models, 4): per epoch and model, train loss, train accuracy, test loss, test accuracy."""
        rows = [loop.advance(n_epochs, np.float32(learning_rate)) for loop in self.loops]
        self.epoch += n_epochs
        return np.stack(rows, axis=1)

    def input_gradients(self) -> np.ndarray:
        """(models, SEQUENCE_LENGTH): per model, mean |∂L/∂value| of one sequence's loss, by distance from
        the end (index 0 is the last step, distance 1)."""
        return np.stack([loop.input_gradients() for loop in self.loops])


@dataclass(frozen=True)
class TimeSnapshot:
    """The race through time at an epoch: per kind, how much each step's input moves the loss."""

    epoch: int
    distance: int
    kinds: tuple[str, ...]
    initial: np.ndarray
    """(kinds, SEQUENCE_LENGTH): mean |∂L/∂value| before training, the last step first."""
    now: np.ndarray


def time_snapshot(pair: RecurrentPair) -> TimeSnapshot:
    return TimeSnapshot(pair.epoch, pair.distance, pair.kinds, pair.initial_gradients, pair.input_gradients())


def time_task(config: Mapping[str, Any], run: str, kinds: tuple[str, ...] = RECURRENT_KINDS) -> TrainingTask:
    """The race through time, from TIME_CONTROLS' settings, as the run `run` of a lesson."""
    fixed, live = fixed_values(TIME_CONTROLS, config), live_values(TIME_CONTROLS, config)

    def train(ctx: TrainingContext):
        pair = RecurrentPair(fixed["distance"], fixed["seed"], fixed["forget_bias"], kinds)
        ctx.replace_snapshot(time_snapshot(pair))

        def step(n: int, values) -> list[dict[str, float]]:
            return [deepnet.race_metrics(kinds, row) for row in pair.run(n, values["learning_rate"])]

        train_in_chunks(ctx, step, lambda: time_snapshot(pair), lambda values: TIME_SPEEDS[values["speed"]], MAX_CHUNK)

    return TrainingTask(run=run, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


def per_step_factor(profile: np.ndarray, distance: int) -> float:
    """The geometric mean factor by which the gradient changes per step back, from the last input
    to the one `distance` steps back."""
    if distance < 2 or profile[0] <= 0:
        return float("nan")
    return float((max(profile[distance - 1], 0.0) / profile[0]) ** (1.0 / (distance - 1)))


def time_findings(shot: TimeSnapshot, last: Mapping[str, float] | None) -> list[str]:
    """Per model: how much gradient reaches the marked input against the last input, at the start
    (with the per-step factor) and now, and whether it has learned."""
    lines, k = [], shot.distance
    for index, kind in enumerate(shot.kinds):
        start, now = shot.initial[index], shot.now[index]
        text = (
            f"**{kind}**: at the start the marked input, {k} steps back, gets {start[k - 1]:.2g} of gradient "
            f"and the last input {start[0]:.2g}"
        )
        factor = per_step_factor(start, k)
        text += f" (×{factor:.2f} per step back)" if np.isfinite(factor) else ""
        if shot.epoch:
            text += f"; after epoch {shot.epoch}, {now[k - 1]:.2g} against {now[0]:.2g}"
        accuracy = None if last is None else last.get(f"{kind}: test_accuracy")
        if accuracy is not None:
            text += f"; test accuracy {accuracy:.0%}" + (" (chance is 50 %)" if accuracy < 0.6 else "")
        lines.append(text + ".")
    return lines
