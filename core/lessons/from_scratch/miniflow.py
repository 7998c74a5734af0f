"""A deep-learning framework in one screen (in the spirit of Udacity's MiniFlow and Karpathy's micrograd): a graph
of nodes, each knowing how to compute its value from its inputs (forward) and how to pass the gradient of the cost
back to them (backward, the chain rule one node at a time). The graph is sorted so that every node comes after its
inputs (Kahn's algorithm); forward runs in that order, backward in the reverse order.

A student writes the graph as lines `name = op(inputs…)`; `parse_graph` turns them into nodes or says, in a
sentence, what is wrong (an unknown name, a cycle, a node nothing uses). Everything is NumPy in float64.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


class Node:
    """A value computed from `inputs`; `grad` is ∂cost/∂value, filled in by the backward pass."""

    def __init__(self, name: str, inputs: Sequence[Node] = ()):
        self.name, self.inputs = name, list(inputs)
        self.value: np.ndarray | None = None
        self.grad: np.ndarray | None = None

    width: int

    def forward(self) -> None:
        raise NotImplementedError

    def backward(self) -> None:
        """Add this node's share of ∂cost/∂input to each input's `grad` (a node may feed several others)."""
        raise NotImplementedError


class Input(Node):
    def __init__(self, name: str, width: int):
        super().__init__(name)
        self.width = width

    def forward(self) -> None:
        pass  # its value is fed in

    def backward(self) -> None:
        pass


class Linear(Node):
    """x @ W + b: the only node with parameters to learn."""

    def __init__(self, name: str, x: Node, units: int, rng: np.random.Generator):
        super().__init__(name, [x])
        self.width = units
        self.W = rng.normal(0.0, 1.0 / np.sqrt(x.width), size=(x.width, units))
        self.b = np.zeros(units)
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)

    def forward(self) -> None:
        self.value = self.inputs[0].value @ self.W + self.b

    def backward(self) -> None:
        x = self.inputs[0]
        x.grad += self.grad @ self.W.T
        self.dW, self.db = x.value.T @ self.grad, self.grad.sum(axis=0)


class Sigmoid(Node):
    def __init__(self, name: str, x: Node):
        super().__init__(name, [x])
        self.width = x.width

    def forward(self) -> None:
        self.value = 1.0 / (1.0 + np.exp(-self.inputs[0].value))

    def backward(self) -> None:
        self.inputs[0].grad += self.grad * self.value * (1.0 - self.value)


class ReLU(Node):
    def __init__(self, name: str, x: Node):
        super().__init__(name, [x])
        self.width = x.width

    def forward(self) -> None:
        self.value = np.maximum(self.inputs[0].value, 0.0)

    def backward(self) -> None:
        self.inputs[0].grad += self.grad * (self.inputs[0].value > 0)


class Add(Node):
    """a + b, of the same width: a skip connection."""

    def __init__(self, name: str, a: Node, b: Node):
        super().__init__(name, [a, b])
        self.width = a.width

    def forward(self) -> None:
        self.value = self.inputs[0].value + self.inputs[1].value

    def backward(self) -> None:
        for x in self.inputs:
            x.grad += self.grad


class MSE(Node):
    """The cost: the mean over the batch of the squared difference between the truth y and the prediction a."""

    def __init__(self, name: str, y: Node, a: Node):
        super().__init__(name, [y, a])
        self.width = 1

    def forward(self) -> None:
        y, a = (x.value for x in self.inputs)
        self.value = np.asarray(np.mean(np.sum((y - a) ** 2, axis=1)))

    def backward(self) -> None:
        y, a = self.inputs
        difference = (y.value - a.value) / len(y.value)
        y.grad += self.grad * 2 * difference
        a.grad += self.grad * -2 * difference


def forward_and_backward(order: Sequence[Node]) -> float:
    """One pass each way over a sorted graph whose last node is the cost; returns the cost."""
    for node in order:
        node.forward()
    for node in order:
        node.grad = np.zeros_like(node.value, dtype=float)
    order[-1].grad = np.ones_like(order[-1].value, dtype=float)
    for node in reversed(order):
        node.backward()
    return float(order[-1].value)


def sgd_step(order: Sequence[Node], learning_rate: float) -> None:
    """Every Linear's parameters one step down their gradient."""
    for node in order:
        if isinstance(node, Linear):
            node.W -= learning_rate * node.dW
            node.b -= learning_rate * node.db


class GraphError(ValueError):
    """What is wrong with a graph, in a sentence a student can act on."""


@dataclass(frozen=True)
class SortStep:
    """One step of Kahn's algorithm: the node taken, and the nodes ready to be taken after it."""

    taken: str
    ready: tuple[str, ...]


def topological_sort(nodes: Sequence[Node]) -> tuple[list[Node], list[SortStep]]:
    """Kahn's algorithm: repeatedly take a node whose inputs have all been taken. Returns the order and its steps;
    GraphError names the nodes on a cycle if some can never be taken."""
    waiting = {node.name: len({x.name for x in node.inputs}) for node in nodes}
    users: dict[str, list[Node]] = {node.name: [] for node in nodes}
    for node in nodes:
        for x in {x.name: x for x in node.inputs}.values():
            users[x.name].append(node)
    ready = [node for node in nodes if waiting[node.name] == 0]
    order, steps = [], []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for user in users[node.name]:
            waiting[user.name] -= 1
            if waiting[user.name] == 0:
                ready.append(user)
        steps.append(SortStep(node.name, tuple(n.name for n in ready)))
    if len(order) < len(nodes):
        stuck = {name for name, count in waiting.items() if count > 0}
        while ends := {name for name in stuck if not any(user.name in stuck for user in users[name])}:
            stuck -= ends  # waiting only for a cycle, not on it
        raise GraphError(
            f"The graph has a cycle: {', '.join(sorted(stuck))} wait for each other, so no order computes them."
        )
    return order, steps


OPS = {"input": 1, "linear": 2, "sigmoid": 1, "relu": 1, "add": 2, "mse": 2}
"""Each operation and how many arguments it takes (input's and linear's second: a width)."""
LINE = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*([A-Za-z_]\w*)\s*\(\s*(.*?)\s*\)\s*$")
MAX_NODES = 40
MAX_WIDTH = 256


@dataclass(frozen=True)
class Graph:
    order: list[Node]
    """The nodes sorted (inputs first, the cost last)."""
    steps: list[SortStep]
    """How Kahn's algorithm found that order."""
    inputs: dict[str, Input]
    lines: dict[str, str]
    """Each node's line of the student's text."""

    @property
    def cost(self) -> MSE:
        return self.order[-1]


def _width(text: str, line: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_WIDTH:
        raise GraphError(f"In `{line}`: the width must be a whole number from 1 to {MAX_WIDTH}, not '{text}'.")
    return int(text)


def parse_graph(text: str, seed: int = 0) -> Graph:
    """Nodes from lines of one operation each: `x = input(3)`,
    `h = linear(x, 4)`, `s = sigmoid(h)`, `r = relu(h)`, `z = add(a, b)`, `cost = mse(y, prediction)`. The graph
    must end in exactly one mse, and every other node must lead to it. Lines may come in any order; `#` starts a
    comment."""
    specs: dict[str, tuple[str, list[str], str]] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = LINE.match(line)
        if not match:
            raise GraphError(f"`{line[:60]}` is not of the form `name = operation(inputs)`, e.g. `h = sigmoid(z)`.")
        name, op, arguments = match.group(1), match.group(2).lower(), match.group(3)
        if "(" in arguments:
            raise GraphError(f"In `{line}`: one operation a line; give the inner one its own line and a name.")
        arguments = [a.strip() for a in arguments.split(",")] if arguments else []
        if op not in OPS:
            raise GraphError(f"In `{line}`: there is no operation '{op}'; use one of {', '.join(OPS)}.")
        if len(arguments) != OPS[op]:
            raise GraphError(f"In `{line}`: {op} takes {OPS[op]} argument(s), not {len(arguments)}.")
        if name in specs:
            raise GraphError(f"'{name}' is defined twice.")
        specs[name] = (op, arguments, line)
    if not specs:
        raise GraphError("The graph is empty: write one node a line, e.g. `x = input(3)`.")
    if len(specs) > MAX_NODES:
        raise GraphError(f"The graph has {len(specs)} nodes; at most {MAX_NODES} are allowed here.")
    references = {
        name: (args[:1] if op == "linear" else [] if op == "input" else args) for name, (op, args, _) in specs.items()
    }
    for name, used in references.items():
        for other in used:
            if other not in specs:
                raise GraphError(f"In `{specs[name][2]}`: nothing is called '{other}'.")
    costs = [name for name, (op, _, _) in specs.items() if op == "mse"]
    if len(costs) != 1:
        raise GraphError(f"The graph needs exactly one cost (`cost = mse(y, prediction)`); it has {len(costs)}.")
    placeholders = [Node(name) for name in specs]
    by_name = {node.name: node for node in placeholders}
    for node in placeholders:
        node.inputs = [by_name[other] for other in references[node.name]]
    placeholder_order, steps = topological_sort(placeholders)  # a cycle is found before any width is needed
    used = {other for others in references.values() for other in others}
    dangling = [name for name in specs if name not in used and name != costs[0]]
    if dangling:
        raise GraphError(f"Nothing uses {', '.join(dangling)}: every node must lead to the cost.")
    rng = np.random.default_rng(seed)
    nodes: dict[str, Node] = {}
    for placeholder in placeholder_order:
        name = placeholder.name
        op, arguments, line = specs[name]
        inputs = [nodes[other] for other in references[name]]
        if op == "input":
            nodes[name] = Input(name, _width(arguments[0], line))
        elif op == "linear":
            nodes[name] = Linear(name, inputs[0], _width(arguments[1], line), rng)
        elif op in ("add", "mse") and inputs[0].width != inputs[1].width:
            raise GraphError(
                f"In `{line}`: {arguments[0]} has width {inputs[0].width} and {arguments[1]} width {inputs[1].width}; "
                f"{op} needs the same width."
            )
        elif op == "add":
            nodes[name] = Add(name, *inputs)
        elif op == "mse":
            nodes[name] = MSE(name, *inputs)
        else:
            nodes[name] = {"sigmoid": Sigmoid, "relu": ReLU}[op](name, inputs[0])
    order = [nodes[p.name] for p in placeholder_order]  # every node leads to the cost, so the cost comes last
    inputs = {name: node for name, node in nodes.items() if isinstance(node, Input)}
    return Graph(order, steps, inputs, {name: line for name, (_, _, line) in specs.items()})


def feed(graph: Graph, values: Mapping[str, np.ndarray]) -> None:
    """Put data into the graph's inputs; GraphError if one is missing or has the wrong width."""
    for name, node in graph.inputs.items():
        if name not in values:
            raise GraphError(f"The input '{name}' gets no data: name your inputs {', '.join(values)}.")
        value = np.asarray(values[name], dtype=float)
        if value.ndim != 2 or value.shape[1] != node.width:
            raise GraphError(f"The input '{name}' has width {node.width}, but its data has {value.shape[-1]} columns.")
        node.value = value


def jax_cost(graph: Graph):
    """The same graph as a JAX function of its parameters {linear's name: (W, b)} and its inputs' values: the
    independent reference for the hand-written backward passes (`jax.grad`)."""
    import jax
    import jax.numpy as jnp

    def cost(params, values):
        computed = {}
        for node in graph.order:
            x = [computed[i.name] for i in node.inputs]
            if isinstance(node, Input):
                computed[node.name] = values[node.name]
            elif isinstance(node, Linear):
                W, b = params[node.name]
                computed[node.name] = x[0] @ W + b
            elif isinstance(node, Sigmoid):
                computed[node.name] = jax.nn.sigmoid(x[0])
            elif isinstance(node, ReLU):
                computed[node.name] = jnp.maximum(x[0], 0.0)
            elif isinstance(node, Add):
                computed[node.name] = x[0] + x[1]
            else:
                computed[node.name] = jnp.mean(jnp.sum((x[0] - x[1]) ** 2, axis=1))
        return computed[graph.cost.name]

    return cost


def parameters(graph: Graph) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {node.name: (node.W, node.b) for node in graph.order if isinstance(node, Linear)}


def gradients(graph: Graph) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {node.name: (node.dW, node.db) for node in graph.order if isinstance(node, Linear)}
