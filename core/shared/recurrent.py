"""The race through time that the vanishing-gradients and LSTM lessons share: recurrent networks of
several kinds, from one seed, learning to recall the sign of a marked input k steps back by SGD with
momentum (Adam would rescale each weight's step and hide how small the gradient is); the gradient of
the loss with respect to each step's input, against its distance from the end, shows a plain RNN's
memory fading geometrically while an LSTM's cell keeps a path open."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core.engine.jobs import JobContext, TrainingTask
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
    Control("time_epochs", "Epochs", "int", 40, min=1, max=400),
    Control("time_seed", "Seed", "int", 0, min=0, max=9999),
    Control(
        "time_learning_rate",
        "Learning rate (SGD, momentum 0.9)",
        "select",
        0.1,
        options=(0.01, 0.03, 0.1, 0.3),
        live=True,
    ),
    speed_control("time_speed", TIME_SPEEDS),
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


class RecurrentPair:
    """Recurrent networks of each of `kinds` (a SimpleRNN and an LSTM here; the LSTM lesson adds a GRU)
    from the same seed, trained on the same batches by SGD with momentum and gradient clipping (a
    recurrent network's gradient can also explode). `run(n, lr)` trains n epochs of each (one jitted
    call per model); `input_gradients()` is, per model and per distance from the end, the mean
    |∂L/∂value| of one test sequence's loss."""

    def __init__(self, distance: int, seed: int, forget_bias: float = 1.0, kinds: tuple[str, ...] = RECURRENT_KINDS):
        import jax
        import jax.numpy as jnp
        from jax import lax

        from core.engine.backend import load_keras

        keras = load_keras()
        self.distance = int(distance)
        x, y = recall_data(distance, seed, SEQUENCES)
        x_test, y_test = recall_data(distance, seed + 1, TEST_SEQUENCES)
        x, y, x_test, y_test = map(jnp.asarray, (x, y, x_test, y_test))
        n_batches = SEQUENCES // RECURRENT_BATCH
        self.kinds = tuple(kinds)
        self.models, self._runs, self._gradients, self.states = [], [], [], []
        for kind in self.kinds:
            model = build_recurrent(kind, seed, forget_bias)
            optimizer = keras.optimizers.SGD(learning_rate=0.1, momentum=RECURRENT_MOMENTUM, global_clipnorm=CLIP_NORM)
            optimizer.build(model.trainable_variables)
            lr_index = next(i for i, v in enumerate(optimizer.variables) if v.path.endswith("learning_rate"))

            def loss_of(trainable, non_trainable, inputs, labels, model=model):
                logits, _ = model.stateless_call(trainable, non_trainable, inputs)
                return deepnet.mean_loss(labels, logits), logits

            def evaluate(trainable, non_trainable, inputs, labels, loss_of=loss_of):
                loss, logits = loss_of(trainable, non_trainable, inputs, labels)
                return loss, jnp.mean((logits[:, 0] > 0) == (labels == 1))

            def epoch(index, carry, loss_of=loss_of, evaluate=evaluate, optimizer=optimizer, lr_index=lr_index):
                (trainable, non_trainable, optimizer_vars, key), rows, learning_rate = carry
                key, shuffle_key = jax.random.split(key)
                order = jax.random.permutation(shuffle_key, SEQUENCES).reshape(n_batches, RECURRENT_BATCH)

                def step(state, indices):
                    trainable, optimizer_vars = state
                    grads = jax.grad(lambda t: loss_of(t, non_trainable, x[indices], y[indices])[0])(trainable)
                    optimizer_vars = list(optimizer_vars)
                    optimizer_vars[lr_index] = learning_rate.astype(optimizer_vars[lr_index].dtype)
                    return optimizer.stateless_apply(optimizer_vars, grads, trainable), None

                (trainable, optimizer_vars), _ = lax.scan(step, (trainable, optimizer_vars), order)
                row = jnp.stack(
                    [*evaluate(trainable, non_trainable, x, y), *evaluate(trainable, non_trainable, x_test, y_test)]
                )
                return (trainable, non_trainable, optimizer_vars, key), rows.at[index].set(row), learning_rate

            @jax.jit
            def run(state, n_epochs, learning_rate, epoch=epoch):
                state, rows, _ = lax.fori_loop(0, n_epochs, epoch, (state, jnp.zeros((MAX_CHUNK, 4)), learning_rate))
                return state, rows

            @jax.jit
            def gradients(trainable, non_trainable, loss_of=loss_of):
                per_input = jax.grad(lambda inputs: loss_of(trainable, non_trainable, inputs, y_test)[0])(x_test)
                return jnp.mean(jnp.abs(per_input[:, :, 0]), axis=0)[::-1] * TEST_SEQUENCES  # the last step first

            self.models.append(model)
            self._runs.append(run)
            self._gradients.append(gradients)
            self.states.append(
                (
                    [v.value for v in model.trainable_variables],
                    [v.value for v in model.non_trainable_variables],
                    [v.value for v in optimizer.variables],
                    jax.random.PRNGKey(int(seed)),
                )
            )
        self.epoch = 0
        self.initial_gradients = self.input_gradients()

    def run(self, n_epochs: int, learning_rate: float) -> np.ndarray:
        """(n, models, 4): per epoch and model, train loss, train accuracy, test loss, test accuracy."""
        rows = []
        for index, run in enumerate(self._runs):
            self.states[index], model_rows = run(self.states[index], n_epochs, np.float32(learning_rate))
            rows.append(np.asarray(model_rows)[:n_epochs])
        self.epoch += n_epochs
        return np.stack(rows, axis=1)

    def input_gradients(self) -> np.ndarray:
        """(2, SEQUENCE_LENGTH): per model, mean |∂L/∂value| of one sequence's loss, by distance from the
        end (index 0 is the last step, distance 1)."""
        return np.stack([np.asarray(g(state[0], state[1])) for g, state in zip(self._gradients, self.states)])


def time_snapshot(pair: RecurrentPair) -> dict[str, Any]:
    return {
        "epoch": pair.epoch,
        "distance": pair.distance,
        "kinds": pair.kinds,
        "initial": pair.initial_gradients,
        "now": pair.input_gradients(),
    }


def time_task(config: Mapping[str, Any], run: str, kinds: tuple[str, ...] = RECURRENT_KINDS) -> TrainingTask:
    """The race through time, from TIME_CONTROLS' settings, as the run `run` of a lesson."""
    fixed, live = fixed_values(TIME_CONTROLS, config), live_values(TIME_CONTROLS, config)

    def train(ctx: JobContext):
        pair = RecurrentPair(fixed["distance"], fixed["time_seed"], fixed["forget_bias"], kinds)
        ctx.replace_snapshot(time_snapshot(pair))

        def step(n: int, values) -> list[dict[str, float]]:
            return [deepnet.race_metrics(kinds, row) for row in pair.run(n, values["time_learning_rate"])]

        train_in_chunks(
            ctx, step, lambda: time_snapshot(pair), lambda values: TIME_SPEEDS[values["time_speed"]], MAX_CHUNK
        )

    return TrainingTask(run=run, config=fixed, train=train, epochs=int(fixed["time_epochs"]), live=live)


def per_step_factor(profile: np.ndarray, distance: int) -> float:
    """The geometric mean factor by which the gradient changes per step back, from the last input
    to the one `distance` steps back."""
    if distance < 2 or profile[0] <= 0:
        return float("nan")
    return float((max(profile[distance - 1], 0.0) / profile[0]) ** (1.0 / (distance - 1)))


def time_findings(shot: Mapping[str, Any], last: Mapping[str, float] | None) -> list[str]:
    """Per model: how much gradient reaches the marked input against the last input, at the start
    (with the per-step factor) and now, and whether it has learned."""
    lines, k = [], shot["distance"]
    for index, kind in enumerate(shot["kinds"]):
        start, now = shot["initial"][index], shot["now"][index]
        text = (
            f"**{kind}**: at the start the marked input, {k} steps back, gets {start[k - 1]:.2g} of gradient "
            f"and the last input {start[0]:.2g}"
        )
        factor = per_step_factor(start, k)
        text += f" (×{factor:.2f} per step back)" if np.isfinite(factor) else ""
        if shot["epoch"]:
            text += f"; after epoch {shot['epoch']}, {now[k - 1]:.2g} against {now[0]:.2g}"
        accuracy = None if last is None else last.get(f"{kind}: test_accuracy")
        if accuracy is not None:
            text += f"; test accuracy {accuracy:.0%}" + (" (chance is 50 %)" if accuracy < 0.6 else "")
        lines.append(text + ".")
    return lines
