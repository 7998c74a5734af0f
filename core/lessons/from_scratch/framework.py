"""The mini framework at work: the student's graph stepped through (Kahn's sort, then forward, then backward, one
node a step) and trained on a real regression set, scikit-learn's diabetes data (442 patients, ten measurements,
the disease's progression a year later), with plain mini-batch SGD written out in `miniflow`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core.engine.params import Control, ControlBox
from core.lessons.from_scratch import miniflow

DEFAULT_GRAPH = """x = input(10)        # ten measurements of a patient
y = input(1)         # how far the disease progressed a year later
h = linear(x, 8)
s = sigmoid(h)
prediction = linear(s, 1)
cost = mse(y, prediction)"""
FEATURES, TARGET = "x", "y"
WALK_ROWS = 4
"""Patients fed through the graph in the step-by-step walk (a small batch, so its numbers fit on the page)."""
SORT, FORWARD, BACKWARD = "sort", "forward", "backward"

CONTROLS = (
    Control("learning_rate", "Learning rate", "select", 0.05, options=(0.001, 0.01, 0.05, 0.1, 0.5, 1.0)),
    Control("epochs", "Epochs", "int", 100, min=1, max=1000),
    Control("batch_size", "Batch size", "select", 32, options=(8, 32, 128, 353)),
    Control("seed", "Random seed", "int", 0, min=0, max=9999),
)
BOX = ControlBox("framework", "Training", CONTROLS, flat=False)


@dataclass(frozen=True)
class Diabetes:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@lru_cache(maxsize=4)
def diabetes(seed: int) -> Diabetes:
    """scikit-learn's diabetes data (shipped with it), 20 % held out (by seed), features and target standardised on
    the training part (so a prediction of 0 is the average patient)."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    order = np.random.default_rng(seed).permutation(len(data.target))
    x, y = data.data[order], data.target[order, None]
    cut = int(0.8 * len(x))
    x_mean, x_std, y_mean, y_std = x[:cut].mean(0), x[:cut].std(0), y[:cut].mean(), y[:cut].std()
    x, y = (x - x_mean) / x_std, (y - y_mean) / y_std
    return Diabetes(x[:cut], y[:cut], x[cut:], y[cut:])


@dataclass(frozen=True)
class Stage:
    phase: str
    node: str
    detail: str
    """What happened at this step, in words."""
    done: tuple[str, ...]
    """The nodes this phase has reached so far (sorted, computed or given their gradient)."""


def walk(graph: miniflow.Graph) -> list[Stage]:
    """Every step the framework takes: Kahn's sort (a node a step, with the nodes ready next), then the forward
    pass in that order, then the backward pass in reverse, each node's value or gradient summarised."""
    stages, done = [], []
    for step in graph.steps:
        done.append(step.taken)
        ready = ", ".join(step.ready) or "none"
        stages.append(Stage(SORT, step.taken, f"every input it needs is placed; ready next: {ready}", tuple(done)))
    names = [node.name for node in graph.order]
    for index, node in enumerate(graph.order):
        stages.append(Stage(FORWARD, node.name, f"value {summary(node.value)}", tuple(names[: index + 1])))
    for index, node in enumerate(reversed(graph.order)):
        stages.append(
            Stage(BACKWARD, node.name, f"∂cost/∂{node.name} {summary(node.grad)}", tuple(names[::-1][: index + 1]))
        )
    return stages


def layout(graph: miniflow.Graph) -> dict[str, tuple[float, float]]:
    """Where each node is drawn: across by its depth (the longest path from an input), spread down within it."""
    depth: dict[str, int] = {}
    for node in graph.order:
        depth[node.name] = 1 + max((depth[x.name] for x in node.inputs), default=-1)
    columns: dict[int, list[str]] = {}
    for name, column in depth.items():
        columns.setdefault(column, []).append(name)
    return {
        name: (float(column), float(len(names) - 1) / 2 - row)
        for column, names in columns.items()
        for row, name in enumerate(names)
    }


def edges(graph: miniflow.Graph) -> list[tuple[str, str]]:
    return [(x.name, node.name) for node in graph.order for x in node.inputs]


def label(node: miniflow.Node) -> str:
    """A node's operation as the page labels it, e.g. 'linear → 8'."""
    kind = type(node).__name__.lower()
    return f"{kind} → {node.width}" if isinstance(node, (miniflow.Input, miniflow.Linear)) else kind


def summary(values: np.ndarray) -> str:
    """A value's shape and its first numbers."""
    values = np.asarray(values)
    if values.ndim == 0:
        return f"= {float(values):.4f}"
    shown = ", ".join(f"{v:.3f}" for v in values.ravel()[:4])
    return f"{' × '.join(map(str, values.shape))}: [{shown}{', …' if values.size > 4 else ''}]"


def walk_graph(text: str, seed: int) -> tuple[miniflow.Graph, list[Stage]]:
    """The student's graph with WALK_ROWS patients fed in, one forward and backward pass done, and its steps."""
    graph = miniflow.parse_graph(text, seed)
    data = diabetes(seed)
    miniflow.feed(graph, inputs_for(graph, data.x_train[:WALK_ROWS], data.y_train[:WALK_ROWS]))
    miniflow.forward_and_backward(graph.order)
    return graph, walk(graph)


def inputs_for(graph: miniflow.Graph, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """The data for a graph's inputs: GraphError unless they are x (ten features) and y (the target)."""
    if set(graph.inputs) != {FEATURES, TARGET}:
        raise miniflow.GraphError(
            f"Name the inputs '{FEATURES}' (the {x.shape[1]} measurements) and '{TARGET}' (the target, width 1); "
            f"this graph's inputs are {', '.join(graph.inputs) or 'none'}."
        )
    return {FEATURES: x, TARGET: y}


@dataclass(frozen=True)
class TrainingResult:
    train_cost: np.ndarray
    test_cost: np.ndarray
    """Per epoch, the mean squared error on the training and the held-out patients (target in standard units)."""
    r2: float
    """The held-out R² at the end: 1 − MSE ÷ the target's variance (0: no better than always the mean)."""
    diverged_at: int | None


def held_out_r2(test_cost: float, y_test: np.ndarray) -> float:
    return 1.0 - test_cost / float(np.mean((y_test - y_test.mean()) ** 2))


@lru_cache(maxsize=16)
def train(text: str, learning_rate: float, epochs: int, batch_size: int, seed: int) -> TrainingResult:
    """The graph trained by mini-batch SGD (shuffled each epoch by seed), its costs measured after each epoch."""
    graph = miniflow.parse_graph(text, seed)
    data = diabetes(seed)
    rng = np.random.default_rng(seed)
    train_cost, test_cost, diverged_at = [], [], None

    def cost_on(x, y) -> float:
        miniflow.feed(graph, inputs_for(graph, x, y))
        for node in graph.order:
            node.forward()
        return float(graph.cost.value)

    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(data.x_train))
        with np.errstate(all="ignore"):  # a rate too large overflows: the cost says so below
            for start in range(0, len(order) - batch_size + 1, batch_size):
                batch = order[start : start + batch_size]
                miniflow.feed(graph, inputs_for(graph, data.x_train[batch], data.y_train[batch]))
                miniflow.forward_and_backward(graph.order)
                miniflow.sgd_step(graph.order, learning_rate)
            train_cost.append(cost_on(data.x_train, data.y_train))
            test_cost.append(cost_on(data.x_test, data.y_test))
        if not np.isfinite(train_cost[-1]):
            diverged_at = epoch
            break
    r2 = held_out_r2(test_cost[-1], data.y_test) if diverged_at is None else float("nan")
    return TrainingResult(np.asarray(train_cost), np.asarray(test_cost), r2, diverged_at)


def jax_check(graph: miniflow.Graph) -> dict[str, float]:
    """For each Linear, the largest difference between the hand-written backward pass's gradients (dW, db) and
    `jax.grad` of the same graph, in float64 (thread-local: Keras jobs in other threads keep float32)."""
    import jax

    values = {name: node.value for name, node in graph.inputs.items()}
    with jax.enable_x64(True):
        reference = jax.grad(miniflow.jax_cost(graph))(miniflow.parameters(graph), values)
    return {
        name: max(
            float(np.max(np.abs(np.asarray(reference[name][0]) - dW))),
            float(np.max(np.abs(np.asarray(reference[name][1]) - db))),
        )
        for name, (dW, db) in miniflow.gradients(graph).items()
    }


def framework_source() -> str:
    """The framework's own code, as the page shows it: the nodes, the sort and the passes."""
    import inspect

    parts = [
        miniflow.Node,
        miniflow.Input,
        miniflow.Linear,
        miniflow.Sigmoid,
        miniflow.ReLU,
        miniflow.Add,
        miniflow.MSE,
        miniflow.topological_sort,
        miniflow.forward_and_backward,
        miniflow.sgd_step,
    ]
    return "\n\n".join(inspect.getsource(part) for part in parts)


def linear_regression_r2(seed: int) -> float:
    """The held-out R² of ordinary least squares on the same split: the bar a small network should reach."""
    from sklearn.linear_model import LinearRegression

    data = diabetes(seed)
    return float(LinearRegression().fit(data.x_train, data.y_train).score(data.x_test, data.y_test))
