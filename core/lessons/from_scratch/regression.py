"""Regression from scratch: Udacity's first project, a two-layer network written in NumPy, predicting how many bikes
are rented from one Citi Bike station in New York in each three hours of August 2015 (the trips that mglearn ships
as `citibike.csv`, read directly: importing mglearn takes seconds), from the hour and the day of the week, one-hot
encoded. The first 23 days train it; the last 8 are held out, so it predicts days it has never seen.

The network: 15 inputs → hidden sigmoid units → one linear output, no biases (the one-hot inputs carry them), the
cost the mean squared error of the standardised count, full-batch gradient descent. Its Keras twin is the same
network in six lines, trained from the same weights by Keras' SGD.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core.engine.loop import MiniBatchLoop
from core.engine.params import Control, ControlBox

BIN_HOURS = 3
TRAIN_DAYS = 23
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

CONTROLS = (
    Control("learning_rate", "Learning rate", "select", 0.5, options=(0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0)),
    Control("hidden", "Hidden units", "select", 8, options=(1, 2, 4, 8, 16, 32)),
    Control("iterations", "Iterations", "int", 3000, min=10, max=20000),
    Control("seed", "Weights seed", "int", 0, min=0, max=9999),
)
BOX = ControlBox("regression", "The NumPy network", CONTROLS, flat=False)


@dataclass(frozen=True)
class Rentals:
    times: np.ndarray
    """The start of each three hours (numpy datetime64)."""
    counts: np.ndarray
    """Trips started in each three hours."""
    features: np.ndarray
    """(bins, 15): the hour of day one-hot (8 columns: 0–3, 3–6, …) then the day of the week one-hot (7)."""
    feature_names: tuple[str, ...]
    train: int
    """How many bins (from the start) are for training."""
    mean: float
    std: float
    """The training counts' mean and standard deviation: the network predicts (count − mean) / std."""

    @property
    def target(self) -> np.ndarray:
        return ((self.counts - self.mean) / self.std)[:, None]


def citibike_path():
    """mglearn's citibike.csv, found without importing mglearn."""
    import importlib.util
    import pathlib

    spec = importlib.util.find_spec("mglearn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("The mglearn package (which ships the Citi Bike trips) is not installed.")
    return pathlib.Path(spec.submodule_search_locations[0]) / "data" / "citibike.csv"


@lru_cache(maxsize=1)
def rentals() -> Rentals:
    """Trips per three hours, with their one-hot features."""
    import pandas as pd

    starts = pd.to_datetime(pd.read_csv(citibike_path(), usecols=["starttime"]).starttime, format="%m/%d/%Y %H:%M:%S")
    bins = pd.date_range("2015-08-01", "2015-09-01", freq=f"{BIN_HOURS}h", inclusive="left")
    counts = starts.dt.floor(f"{BIN_HOURS}h").value_counts().reindex(bins, fill_value=0).to_numpy(dtype=float)
    hours = np.eye(24 // BIN_HOURS)[bins.hour // BIN_HOURS]
    days = np.eye(7)[bins.dayofweek]
    names = tuple(f"{h:02d}–{h + BIN_HOURS:02d} h" for h in range(0, 24, BIN_HOURS)) + WEEKDAYS
    train = TRAIN_DAYS * 24 // BIN_HOURS
    return Rentals(
        bins.to_numpy(), counts, np.hstack([hours, days]), names, train, counts[:train].mean(), counts[:train].std()
    )


def sigmoid(z: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(z)


def initial_weights(inputs: int, hidden: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Udacity's draw: normal, with standard deviation 1/√(the layer's inputs)."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, inputs**-0.5, (inputs, hidden)), rng.normal(0.0, hidden**-0.5, (hidden, 1))


def forward(x: np.ndarray, w_hidden: np.ndarray, w_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hidden activations, prediction)."""
    hidden = sigmoid(x @ w_hidden)
    return hidden, hidden @ w_output


def train_step(x, y, w_hidden, w_output, learning_rate: float):
    """One step of gradient descent on the mean squared error: the weights after it, and the cost before it."""
    hidden, prediction = forward(x, w_hidden, w_output)
    error = prediction - y
    output_term = 2 * error / len(x)  # ∂cost/∂prediction
    hidden_term = output_term @ w_output.T * hidden * (1 - hidden)  # ∂cost/∂(x @ w_hidden)
    w_output = w_output - learning_rate * hidden.T @ output_term
    w_hidden = w_hidden - learning_rate * x.T @ hidden_term
    return w_hidden, w_output, float(np.mean(error**2))


@dataclass(frozen=True)
class Fit:
    train_cost: np.ndarray
    validation_cost: np.ndarray
    """The mean squared error (standardised counts) after each iteration, on the training and the held-out days."""
    prediction: np.ndarray
    """Predicted trips for every three hours of the month, in trips."""
    w_hidden: np.ndarray
    w_output: np.ndarray

    def r2(self, data: Rentals) -> float:
        """Held-out R²: 1 − MSE ÷ the held-out counts' variance (0: always their mean)."""
        held_out = data.counts[data.train :]
        return 1.0 - float(np.mean((self.prediction[data.train :] - held_out) ** 2)) / float(np.var(held_out))


@lru_cache(maxsize=32)
def fit(learning_rate: float, hidden: int, iterations: int, seed: int) -> Fit:
    data = rentals()
    x, y = data.features[: data.train], data.target[: data.train]
    x_test, y_test = data.features[data.train :], data.target[data.train :]
    w_hidden, w_output = initial_weights(x.shape[1], hidden, seed)
    train_cost, validation_cost = np.empty(iterations), np.empty(iterations)
    with np.errstate(all="ignore"):  # a rate too large overflows: the costs say so
        for step in range(iterations):
            w_hidden, w_output, _ = train_step(x, y, w_hidden, w_output, learning_rate)
            train_cost[step] = np.mean((forward(x, w_hidden, w_output)[1] - y) ** 2)
            validation_cost[step] = np.mean((forward(x_test, w_hidden, w_output)[1] - y_test) ** 2)
        prediction = forward(data.features, w_hidden, w_output)[1][:, 0] * data.std + data.mean
    return Fit(train_cost, validation_cost, prediction, w_hidden, w_output)


def keras_twin(hidden: int):
    """The same network in Keras: no biases, a sigmoid hidden layer, a linear output."""
    from core.engine.backend import load_keras

    keras = load_keras()
    return keras.Sequential(
        [
            keras.Input((15,)),
            keras.layers.Dense(hidden, activation="sigmoid", use_bias=False),
            keras.layers.Dense(1, use_bias=False),
        ]
    )


class KerasTwin(MiniBatchLoop):
    """The Keras twin on the shared jitted loop: every epoch one full-batch step of Keras' SGD on the mean squared
    error; its row, the training cost after the step."""

    def __init__(self, hidden: int, seed: int):
        from core.engine.backend import load_keras

        keras = load_keras()
        data = rentals()
        model = keras_twin(hidden)
        model.set_weights(list(initial_weights(data.features.shape[1], hidden, seed)))
        optimizer = keras.optimizers.SGD()
        optimizer.build(model.trainable_variables)
        x, y = data.features[: data.train].astype("float32"), data.target[: data.train].astype("float32")
        super().__init__(model, optimizer, x, y, len(x), seed, TWIN_CHUNK, (1,))

    def _cost(self, trainable, non_trainable, x, y):
        import jax.numpy as jnp

        prediction, non_trainable = self.model.stateless_call(trainable, non_trainable, x)
        return jnp.mean((prediction - y) ** 2), non_trainable

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        return self._cost(trainable, non_trainable, x, y)

    def evaluate(self, trainable, non_trainable):
        return self._cost(trainable, non_trainable, self.x, self.y)[0][None]


TWIN_CHUNK = 1000


@lru_cache(maxsize=16)
def keras_fit(learning_rate: float, hidden: int, iterations: int, seed: int) -> np.ndarray:
    """The Keras twin trained from the NumPy network's first weights: its training cost after each iteration (the
    NumPy network's is `fit(...).train_cost`)."""
    import jax.numpy as jnp

    twin = KerasTwin(hidden, seed)
    costs = [
        twin.advance(min(TWIN_CHUNK, iterations - done), jnp.float32(learning_rate))[:, 0]
        for done in range(0, iterations, TWIN_CHUNK)
    ]
    return np.concatenate(costs)


def encoding_rows(count: int = 8) -> list[dict]:
    """The first three-hour bins as the network sees them: time, trips, and the 15 one-hot columns."""
    data = rentals()
    return [
        {"starts": str(data.times[index])[:16].replace("T", " "), "trips": int(data.counts[index])}
        | {name: int(value) for name, value in zip(data.feature_names, data.features[index])}
        for index in range(count)
    ]


def least_squares_r2() -> float:
    """The held-out R² of a linear model on the same one-hot features: what one layer alone can do."""
    from sklearn.linear_model import LinearRegression

    data = rentals()
    model = LinearRegression().fit(data.features[: data.train], data.counts[: data.train])
    return float(model.score(data.features[data.train :], data.counts[data.train :]))


def twin_source() -> str:
    import inspect

    return inspect.getsource(keras_twin)
