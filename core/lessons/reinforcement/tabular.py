"""Tabular reinforcement learning on gymnasium's grid worlds: Q-learning and SARSA learning a table of action values
Q(s, a) episode by episode with ε-greedy exploration, and value iteration's exact answer beside them.

The worlds are gymnasium's own (FrozenLake, CliffWalking), read through their transition tables (`env.unwrapped.P`):
the same dynamics as `env.step`, sampled here in NumPy, so that thousands of episodes run in a second.

Q-learning:  Q(s, a) ← Q(s, a) + α [r + γ max_a′ Q(s′, a′) − Q(s, a)]   (off-policy: the best next action)
SARSA:       Q(s, a) ← Q(s, a) + α [r + γ Q(s′, a′) − Q(s, a)]          (on-policy: the next action it will take)
(the bracket's future term is 0 when s′ ends the episode).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.pacing import speed_control, train_in_chunks
from core.engine.params import Control, ControlBox, fixed_values, live_values
from core.shared.copies import row_key

RUN = "reinforcement/tabular"
Q_LEARNING, SARSA = "Q-learning", "SARSA"
ALGORITHMS = (Q_LEARNING, SARSA)
LAKE, SLIPPERY_LAKE, BIG_LAKE, CLIFF = "FrozenLake 4×4", "FrozenLake 4×4, slippery", "FrozenLake 8×8", "CliffWalking"
OWN = "Your own grid"
WORLDS = (CLIFF, LAKE, SLIPPERY_LAKE, BIG_LAKE, OWN)
OWN_LETTERS = {"S": "start", "F": "floor", "W": "wall", "H": "hole (−1, ends the episode)", "G": "goal (+1, ends it)"}
OWN_REWARDS = {"H": -1.0, "G": 1.0}
DEFAULT_GRID = "SFFFFF/FWWWHF/FFFWFF/HFFFFG"
MAX_SIDE = 12
GRID_MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))
"""Up, right, down, left (CliffWalking's order)."""
WINDOW = 100
"""Episodes in the moving average of the return and the success rate."""
SPEEDS = {"slow motion": 20.0, "steady": 200.0, "full speed": None}
MAX_CHUNK = 500


def reachable(rows: Sequence[str], start: tuple[int, int]) -> set[tuple[int, int]]:
    """The cells an agent can walk to from `start`: through floor, not through walls, and not on past a hole or a
    goal (the episode ends there)."""
    seen, frontier = {start}, [start]
    while frontier:
        row, column = frontier.pop()
        if rows[row][column] in "HG":
            continue
        for d_row, d_column in GRID_MOVES:
            r, c = row + d_row, column + d_column
            if 0 <= r < len(rows) and 0 <= c < len(rows[0]) and rows[r][c] != "W" and (r, c) not in seen:
                seen.add((r, c))
                frontier.append((r, c))
    return seen


def checked_grid(text: str) -> str:
    """A student's grid, rows separated by '/', in capitals; ValueError with what to fix."""
    rows = [row.strip().upper() for row in text.split("/") if row.strip()]
    letters = ", ".join(f"{letter} {meaning}" for letter, meaning in OWN_LETTERS.items())
    if not 2 <= len(rows) <= MAX_SIDE:
        raise ValueError(f"a grid needs 2 to {MAX_SIDE} rows, one per line, not {len(rows)}")
    if len({len(row) for row in rows}) > 1:
        raise ValueError(f"every row needs the same length; these have {', '.join(str(len(r)) for r in rows)}")
    if not 2 <= len(rows[0]) <= MAX_SIDE:
        raise ValueError(f"a row needs 2 to {MAX_SIDE} cells, not {len(rows[0])}")
    unknown = sorted({letter for row in rows for letter in row} - set(OWN_LETTERS))
    if unknown:
        raise ValueError(f"'{unknown[0]}' is not a cell; use {letters}")
    starts = [(r, c) for r, row in enumerate(rows) for c, letter in enumerate(row) if letter == "S"]
    if len(starts) != 1:
        raise ValueError(f"a grid needs exactly one start S, not {len(starts)}")
    if not any(rows[r][c] == "G" for r, c in reachable(rows, starts[0])):
        raise ValueError("no goal G can be reached from the start S: open a path through the walls W and holes H")
    return "/".join(rows)


CONTROLS = (
    Control("world", "World", "select", CLIFF, options=WORLDS),
    Control(
        "grid",
        "Your own grid",
        "text",
        DEFAULT_GRID,
        max=MAX_SIDE * (MAX_SIDE + 1),
        validate=checked_grid,
        help="Used when the world is 'Your own grid': one row per line, "
        + ", ".join(f"{letter} {meaning}" for letter, meaning in OWN_LETTERS.items())
        + ". Moves are certain; walking into a wall or the edge stays put.",
    ),
    Control("algorithms", "Algorithms", "multi", ALGORITHMS, options=ALGORITHMS, min=1, max_items=2),
    Control("alpha", "Learning rate α", "select", 0.5, options=(0.05, 0.1, 0.2, 0.5, 0.8, 1.0), live=True),
    Control("gamma", "Discount γ", "select", 1.0, options=(0.5, 0.9, 0.95, 0.99, 1.0), live=True),
    Control(
        "epsilon",
        "Exploration ε",
        "select",
        0.1,
        options=(0.0, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0),
        live=True,
        help="The share of steps that take a random action instead of the best one known.",
    ),
    Control(
        "decay",
        "ε decay per episode",
        "select",
        1.0,
        options=(1.0, 0.999, 0.995, 0.99),
        help="ε is multiplied by this after every episode (1: it stays).",
    ),
    Control("episodes", "Episodes", "int", 500, min=10, max=50000),
    Control("seed", "Random seed", "int", 0, min=0, max=9999),
    speed_control(SPEEDS),
)
BOX = ControlBox("tabular", "World and learning", CONTROLS, flat=False)


@dataclass(frozen=True)
class World:
    name: str
    shape: tuple[int, int]
    cells: tuple[str, ...]
    """Each cell's letter: S start, F frozen (safe), H hole, C cliff, G goal."""
    probabilities: np.ndarray
    next_state: np.ndarray
    reward: np.ndarray
    done: np.ndarray
    """(states, actions, branches): each action's possible outcomes (probability 0 pads the branches)."""
    start: int
    moves: tuple[tuple[int, int], ...]
    """Each action's step on the grid as (row, column)."""
    max_steps: int
    cumulative: np.ndarray
    """Each action's outcomes' probabilities summed in order, for drawing one with a single uniform number."""

    @property
    def goal(self) -> np.ndarray:
        """Which states are the goal."""
        return np.array([cell == "G" for cell in self.cells])

    @property
    def states(self) -> int:
        return self.probabilities.shape[0]

    def step(self, state: int, action: int, rng: np.random.Generator) -> tuple[int, float, bool]:
        branch = 0
        if self.probabilities.shape[2] > 1:  # the first branch whose cumulative probability passes a uniform draw
            branch = min(
                int(np.searchsorted(self.cumulative[state, action], rng.random(), side="right")),
                self.probabilities.shape[2] - 1,
            )
        return (
            int(self.next_state[state, action, branch]),
            float(self.reward[state, action, branch]),
            bool(self.done[state, action, branch]),
        )


def _tables(transitions: Mapping[int, Mapping[int, Sequence]]) -> tuple[np.ndarray, ...]:
    states, actions = len(transitions), len(transitions[0])
    branches = max(len(outcomes) for row in transitions.values() for outcomes in row.values())
    tables = [np.zeros((states, actions, branches)) for _ in range(4)]
    for state, row in transitions.items():
        for action, outcomes in row.items():
            for branch, (probability, target, reward, done) in enumerate(outcomes):
                for table, value in zip(tables, (probability, target, reward, done)):
                    table[state, action, branch] = value
    probabilities, target, reward, done = tables
    return probabilities, target.astype(int), reward, done.astype(bool)


@lru_cache(maxsize=8)
def own_world(grid: str) -> World:
    """A student's grid (checked by `checked_grid`) as tables: deterministic moves, a wall or the edge keeps the agent
    where it is, a hole or the goal ends the episode with its reward, every other step rewards 0."""
    rows = grid.split("/")
    height, width = len(rows), len(rows[0])
    cells = [letter for row in rows for letter in row]
    states = height * width
    target = np.zeros((states, len(GRID_MOVES), 1), dtype=int)
    reward, done = np.zeros((states, len(GRID_MOVES), 1)), np.zeros((states, len(GRID_MOVES), 1), dtype=bool)
    for state, letter in enumerate(cells):
        row, column = divmod(state, width)
        for action, (d_row, d_column) in enumerate(GRID_MOVES):
            r, c = row + d_row, column + d_column
            moved = r * width + c if 0 <= r < height and 0 <= c < width and rows[r][c] != "W" else state
            if letter in "HG":  # an end: never left (its values stay 0)
                moved = state
            target[state, action, 0] = moved
            reward[state, action, 0] = OWN_REWARDS.get(cells[moved], 0.0) if moved != state else 0.0
            done[state, action, 0] = cells[moved] in "HG"
    probabilities = np.ones((states, len(GRID_MOVES), 1))
    return World(
        OWN,
        (height, width),
        tuple(cells),
        probabilities,
        target,
        reward,
        done,
        cells.index("S"),
        GRID_MOVES,
        4 * states,
        np.cumsum(probabilities, axis=2),
    )


def used_grid(name: str, grid: str) -> str:
    """The grid a world is made from: the student's for OWN; for gymnasium's worlds, none matters, so the default
    (runs and cached answers that differ only in an unused grid are the same)."""
    return grid if name == OWN else DEFAULT_GRID


def world(name: str, grid: str = DEFAULT_GRID) -> World:
    """One of gymnasium's grid worlds as tables, or the student's own (`grid`, used only for OWN)."""
    return own_world(grid) if name == OWN else gymnasium_world(name)


@lru_cache(maxsize=8)
def gymnasium_world(name: str) -> World:
    """One of gymnasium's grid worlds, read through its transition tables."""
    import gymnasium

    if name == CLIFF:
        env = gymnasium.make("CliffWalking-v1")
        rows, columns = env.unwrapped.shape
        cells = ["F"] * (rows * columns)
        cells[(rows - 1) * columns] = "S"
        cells[(rows - 1) * columns + 1 : rows * columns - 1] = ["C"] * (columns - 2)
        cells[rows * columns - 1] = "G"
        moves, max_steps = GRID_MOVES, 500
    else:
        env = gymnasium.make("FrozenLake-v1", map_name="8x8" if name == BIG_LAKE else "4x4", is_slippery=name != LAKE)
        desc = env.unwrapped.desc.astype(str)
        rows, columns = desc.shape
        cells = list(desc.ravel())
        moves, max_steps = ((0, -1), (1, 0), (0, 1), (-1, 0)), 100 if rows == 4 else 200
    probabilities, target, reward, done = _tables(env.unwrapped.P)
    start = cells.index("S")
    env.close()
    return World(
        name,
        (rows, columns),
        tuple(cells),
        probabilities,
        target,
        reward,
        done,
        start,
        moves,
        max_steps,
        np.cumsum(probabilities, axis=2),
    )


def epsilon_greedy(q_row: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """A random action with probability ε, else the best known (ties broken at random, so that an untrained agent
    does not always walk the same way)."""
    if rng.random() < epsilon:
        return int(rng.integers(len(q_row)))
    best = np.flatnonzero(q_row == q_row.max())
    return int(best[0] if len(best) == 1 else rng.choice(best))


def td_target(algorithm: str, q: np.ndarray, reward: float, next_state: int, next_action: int, done: bool, gamma):
    """The value the update moves Q(s, a) towards."""
    if done:
        return reward
    future = q[next_state].max() if algorithm == Q_LEARNING else q[next_state, next_action]
    return reward + gamma * future


@dataclass(frozen=True)
class Episode:
    total: float
    steps: int
    reached_goal: bool
    path: tuple[int, ...]


def run_episode(
    algorithm: str, w: World, q: np.ndarray, alpha: float, gamma: float, epsilon: float, rng: np.random.Generator
) -> Episode:
    """One episode of learning, updating `q` in place after every step."""
    state, total, path = w.start, 0.0, [w.start]
    action = epsilon_greedy(q[state], epsilon, rng)
    for step in range(1, w.max_steps + 1):
        next_state, reward, done = w.step(state, action, rng)
        next_action = epsilon_greedy(q[next_state], epsilon, rng)
        q[state, action] += alpha * (
            td_target(algorithm, q, reward, next_state, next_action, done, gamma) - q[state, action]
        )
        total += reward
        path.append(next_state)
        state, action = next_state, next_action
        if done:
            return Episode(total, step, w.cells[state] == "G", tuple(path))
    return Episode(total, w.max_steps, False, tuple(path))


def value_iteration(w: World, gamma: float, tolerance: float = 1e-10, max_sweeps: int = 100_000) -> np.ndarray:
    """The optimal action values Q*(s, a), by repeated Bellman optimality backups until they change by less than
    `tolerance`. Terminal outcomes contribute only their reward."""
    q = np.zeros(w.probabilities.shape[:2])
    for _ in range(max_sweeps):
        future = np.where(w.done, 0.0, q.max(axis=1)[w.next_state])
        updated = np.sum(w.probabilities * (w.reward + gamma * future), axis=2)
        if np.max(np.abs(updated - q)) < tolerance:
            return updated
        q = updated
    return q


def greedy_policy(q: np.ndarray) -> np.ndarray:
    return q.argmax(axis=1)


def success_probability(w: World, policy: np.ndarray, horizon: int | None = None) -> float:
    """The exact probability that following `policy` from the start reaches the goal within `horizon` steps (the
    world's episode length): the state distribution pushed through the policy's transitions."""
    probability = np.zeros(w.states)
    probability[w.start] = 1.0
    reached = 0.0
    rows, goal = np.arange(w.states), w.goal
    for _ in range(horizon or w.max_steps):
        moved = np.zeros(w.states)
        chosen = w.probabilities[rows, policy]
        targets, ends = w.next_state[rows, policy], w.done[rows, policy]
        for branch in range(chosen.shape[1]):
            mass = probability * chosen[:, branch]
            reached += float(np.sum(mass[ends[:, branch] & goal[targets[:, branch]]]))
            np.add.at(moved, targets[~ends[:, branch], branch], mass[~ends[:, branch]])
        probability = moved
    return reached


def greedy_path(w: World, q: np.ndarray) -> list[int]:
    """The path the greedy policy takes from the start where every move has one outcome (CliffWalking, the
    non-slippery lake), stopped at the goal, at a repeat or after the episode's length."""
    path, state = [w.start], w.start
    for _ in range(w.max_steps):
        action = int(q[state].argmax())
        state = int(w.next_state[state, action, 0])
        if state in path:
            break
        path.append(state)
        if w.cells[state] == "G" or w.done[path[-2], action, 0]:
            break
    return path


@dataclass(frozen=True)
class TabularSnapshot:
    episode: int
    world: str
    grid: str
    q: Mapping[str, np.ndarray]
    """Each algorithm's table (states × actions) now."""
    paths: Mapping[str, tuple[int, ...]]
    """Each algorithm's latest episode, the states it visited."""
    epsilon: float


@task_factory
def tabular_task(config: Mapping[str, Any]) -> TrainingTask:
    """The live run: each chosen algorithm learns its own table, an episode of each per row, on its own random
    stream (seeded alike)."""
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)
    fixed["grid"] = used_grid(fixed["world"], fixed["grid"])
    chosen = tuple(name for name in ALGORITHMS if name in fixed["algorithms"])

    def train(ctx: TrainingContext):
        w = world(fixed["world"], fixed["grid"])
        tables = {name: np.zeros(w.probabilities.shape[:2]) for name in chosen}
        rngs = {name: np.random.default_rng(int(fixed["seed"])) for name in chosen}
        recent = {name: [] for name in chosen}
        paths: dict[str, tuple[int, ...]] = {}
        state = {"episodes": 0, "decayed": 1.0, "epsilon": float(live["epsilon"])}

        def snapshot() -> TabularSnapshot:
            return TabularSnapshot(
                state["episodes"],
                w.name,
                fixed["grid"],
                {name: table.copy() for name, table in tables.items()},
                dict(paths),
                state["epsilon"],
            )

        ctx.replace_snapshot(snapshot())

        def step(n: int, values) -> list[dict[str, float]]:
            rows = []
            for _ in range(n):
                epsilon = float(values["epsilon"]) * state["decayed"]
                row = {"epsilon": epsilon}
                for name in chosen:
                    episode = run_episode(
                        name, w, tables[name], float(values["alpha"]), float(values["gamma"]), epsilon, rngs[name]
                    )
                    recent[name] = (recent[name] + [episode])[-WINDOW:]
                    paths[name] = episode.path
                    row[row_key("return", name)] = episode.total
                    row[row_key("goal", name)] = float(episode.reached_goal)
                    row[row_key("mean return", name)] = float(np.mean([e.total for e in recent[name]]))
                    row[row_key("success", name)] = float(np.mean([e.reached_goal for e in recent[name]]))
                rows.append(row)
                state["episodes"] += 1
                state["decayed"] *= float(fixed["decay"])
                state["epsilon"] = epsilon
            return rows

        train_in_chunks(ctx, step, snapshot, lambda values: SPEEDS[values["speed"]], MAX_CHUNK)

    return TrainingTask(run=RUN, config=fixed, train=train, epochs=int(fixed["episodes"]), live=live, unit="episode")


@dataclass(frozen=True)
class AlgorithmNotice:
    mean_return: float
    """Over the last WINDOW episodes, exploration included."""
    first_goal: int | None
    """The first episode that reached the goal."""
    greedy_success: float
    """The exact probability that the table's greedy policy reaches the goal in an episode."""
    greedy_steps: int | None
    """Where every move has one outcome: the greedy policy's path length to the goal (None if it does not get
    there)."""
    greedy_rows: tuple[int, ...]
    """The grid rows that path passes through."""


def algorithm_notice(history: Sequence[Mapping[str, float]], w: World, q: np.ndarray, name: str) -> AlgorithmNotice:
    returns = [row[row_key("return", name)] for row in history if row_key("return", name) in row]
    first = next((int(row["epoch"]) for row in history if row.get(row_key("goal", name))), None)
    policy = greedy_policy(q)
    steps, rows = None, ()
    if w.probabilities.shape[2] == 1:
        path = greedy_path(w, q)
        if w.cells[path[-1]] == "G":
            steps, rows = len(path) - 1, tuple(sorted({state // w.shape[1] for state in path}))
    return AlgorithmNotice(
        float(np.mean(returns[-WINDOW:])) if returns else float("nan"),
        first,
        success_probability(w, policy),
        steps,
        rows,
    )


def return_axis(history: Sequence[Mapping[str, float]], algorithms: Sequence[str]) -> tuple[float, float] | None:
    """The mean-return chart's vertical range once WINDOW episodes have passed: the first episodes (an untrained
    agent wandering for hundreds of steps) would otherwise squash the differences that matter later."""
    later = [
        row[row_key("mean return", name)]
        for row in history[WINDOW:]
        for name in algorithms
        if row_key("mean return", name) in row
    ]
    if not later:
        return None
    low, high = min(later), max(later)
    margin = 0.1 * (high - low) or 1.0
    return low - margin, high + margin


def optimal(name: str, gamma: float, grid: str = DEFAULT_GRID) -> tuple[np.ndarray, float]:
    """Value iteration's Q* for a world and discount, and the success probability of its greedy policy."""
    return _optimal(name, gamma, used_grid(name, grid))


@lru_cache(maxsize=32)
def _optimal(name: str, gamma: float, grid: str) -> tuple[np.ndarray, float]:
    w = world(name, grid)
    q = value_iteration(w, gamma)
    return q, success_probability(w, greedy_policy(q))


def discount_warning(w: World, gamma: float) -> str | None:
    """Why γ = 1 fails in a world that charges nothing per step: every path to the goal is worth the same."""
    if gamma < 1.0 or np.any((w.reward < 0) & ~w.done):  # a cost on steps that go on
        return None
    return (
        f"With γ = 1 in {w.name}, where a step costs nothing, reaching the goal in 6 steps or in 60 is worth the same "
        "1: every action that does not fall into a hole ties, and a greedy agent may bump into a wall for ever. "
        "Choose γ below 1, so that sooner is worth more."
    )
