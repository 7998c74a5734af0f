"""A deep Q-network learning CartPole live (Mnih et al. 2015): a Keras network maps the cart's state to a value
per action, learned from a replay buffer of past steps against a target network's slower copy of itself.

CartPole here is gymnasium's own dynamics, written in JAX with gymnasium's constants (checked step by step
against `gymnasium.make("CartPole-v1")` in the tests), so the whole of a block of steps (act ε-greedily, step the
cart, store the step, learn from a sampled batch, copy the target network) runs inside one jitted call on the
shared chunked loop. The trained agent then plays in gymnasium's own environment.

The target:  y = r + γ (1 − terminated) max_a′ Q_target(s′, a′);  the loss: Huber(y − Q(s, a)), averaged over a
batch drawn uniformly from the buffer. An episode cut off at 500 steps is truncated, not terminated: the value
of its last state still counts its future.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.loop import ChunkedLoop, learning_rate_slot, variable_values, with_learning_rate
from core.engine.pacing import speed_control, train_in_chunks
from core.engine.params import Control, ControlBox, fixed_values, live_values
from core.shared.copies import row_key

RUN = "reinforcement/dqn"
BLOCK = 50
"""Environment steps per published row: one second of the cart's time (gymnasium steps 0.02 s)."""
MAX_STEPS = 500
"""CartPole-v1's episode length: a return of 500 is a perfect episode."""
SOLVED = 475.0
"""gymnasium's reward threshold for CartPole-v1, over the last RECENT episodes."""
RECENT = 10
BATCH = 128
WARMUP = 1000
"""Steps of pure exploration that fill the buffer before the first update."""
WITH_TARGET, WITHOUT_TARGET = "with a target network", "without a target network"
VARIANTS = (WITH_TARGET, WITHOUT_TARGET)
SPEEDS = {"slow motion": 1.0, "steady": 20.0, "full speed": None}
MAX_CHUNK = 100
ACTIONS = ("push left", "push right")
ROW_KEYS = ("return", "mean return", "episodes", "epsilon", "loss", "q")
"""Per copy and block: the latest finished episode's return and the mean of the last RECENT, episodes finished so
far, ε at the block's end, the mean TD loss, the mean max Q on the learning batches."""

CONTROLS = (
    Control(
        "variants",
        "Networks",
        "multi",
        VARIANTS,
        options=VARIANTS,
        min=1,
        max_items=2,
        help="One with a target network and one without, from the same weights on the same first states.",
    ),
    Control(
        "steps",
        "Environment steps",
        "int",
        60_000,
        min=2_000,
        max=200_000,
        step=1_000,
        help=f"The run trains and reports in blocks of {BLOCK} steps, one second of the cart's time.",
    ),
    Control(
        "tau",
        "Target network follows by τ",
        "select",
        0.005,
        options=(0.001, 0.002, 0.005, 0.01, 0.05),
        live=True,
        help="Each step the target network moves this share of the way to the network: it lags about 1/τ steps "
        "behind, so the values the network learns towards stay nearly still.",
    ),
    Control(
        "buffer",
        "Replay buffer (steps)",
        "select",
        10_000,
        options=(200, 1_000, 10_000, 50_000),
        help=f"How many past steps the network learns from, {BATCH} drawn at random each step. 200: little more "
        "than the latest moments, one after another.",
    ),
    Control("learning_rate", "Learning rate", "select", 0.0003, options=(0.0001, 0.0003, 0.001, 0.003), live=True),
    Control("gamma", "Discount γ", "select", 0.99, options=(0.9, 0.95, 0.99), live=True),
    Control(
        "epsilon_end",
        "Final ε",
        "select",
        0.05,
        options=(0.0, 0.01, 0.05, 0.1, 0.2),
        live=True,
        help="ε falls in a straight line from 1 (every action random) to this.",
    ),
    Control("epsilon_steps", "ε falls over (steps)", "select", 2_000, options=(1_000, 2_000, 5_000, 10_000, 20_000)),
    Control("hidden", "Hidden units (two layers)", "select", 128, options=(16, 32, 64, 128)),
    Control("seed", "Random seed", "int", 0, min=0, max=9999),
    speed_control(SPEEDS, unit="seconds of the cart's time"),
)
BOX = ControlBox("dqn", "Network and learning", CONTROLS, flat=False)


@lru_cache(maxsize=1)
def physics() -> dict[str, float]:
    """gymnasium's CartPole constants, read from the environment itself."""
    import gymnasium

    env = gymnasium.make("CartPole-v1")
    names = ("gravity", "masspole", "total_mass", "length", "polemass_length", "force_mag", "tau")
    constants = {name: float(getattr(env.unwrapped, name)) for name in names}
    constants |= {"theta_limit": env.unwrapped.theta_threshold_radians, "x_limit": env.unwrapped.x_threshold}
    env.close()
    return constants


def tipping_angle() -> float:
    """The angle from upright, in degrees, at which the pole counts as fallen."""
    return float(np.degrees(physics()["theta_limit"]))


def cartpole_step(state, action, xp=np):
    """gymnasium's CartPole-v1 step (Euler integration) on (x, ẋ, θ, θ̇): the next state and whether the pole
    fell or the cart left the track. `xp` is NumPy or jax.numpy."""
    c = physics()
    x, x_dot, theta, theta_dot = state[..., 0], state[..., 1], state[..., 2], state[..., 3]
    force = xp.where(action == 1, c["force_mag"], -c["force_mag"])
    cos, sin = xp.cos(theta), xp.sin(theta)
    temp = (force + c["polemass_length"] * theta_dot**2 * sin) / c["total_mass"]
    theta_acc = (c["gravity"] * sin - cos * temp) / (
        c["length"] * (4.0 / 3.0 - c["masspole"] * cos**2 / c["total_mass"])
    )
    x_acc = temp - c["polemass_length"] * theta_acc * cos / c["total_mass"]
    tau = c["tau"]
    moved = xp.stack(
        [x + tau * x_dot, x_dot + tau * x_acc, theta + tau * theta_dot, theta_dot + tau * theta_acc], axis=-1
    )
    fell = (xp.abs(moved[..., 0]) > c["x_limit"]) | (xp.abs(moved[..., 2]) > c["theta_limit"])
    return moved, fell


def td_targets(next_q_target, rewards, terminated, gamma, xp=np):
    """y = r + γ (1 − terminated) max_a′ Q_target(s′, a′)."""
    return rewards + gamma * (1.0 - terminated) * xp.max(next_q_target, axis=-1)


def huber(errors, xp=np, delta: float = 1.0):
    """The Huber loss: squared for small errors, linear beyond δ (the DQN paper's clipped error)."""
    small = xp.abs(errors) <= delta
    return xp.where(small, 0.5 * errors**2, delta * (xp.abs(errors) - 0.5 * delta))


def follow(target, online, tau):
    """The target network after one step: τ of the way towards the network (τ = 1: the network itself)."""
    import jax

    return jax.tree_util.tree_map(lambda o, t: t + tau * (o - t), online, target)


def epsilon_at(step, start_steps, end, xp=np):
    """The linear schedule: 1 at step 0, `end` from `start_steps` on."""
    return xp.maximum(end, 1.0 - (1.0 - end) * step / start_steps)


def q_network(hidden: int, seed: int):
    """Two ReLU layers and one linear output per action."""
    from core.engine.backend import load_keras

    keras = load_keras()
    keras.utils.set_random_seed(int(seed))
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(len(ACTIONS)),
        ]
    )


def q_values(weights: Sequence[np.ndarray], states: np.ndarray) -> np.ndarray:
    """The network's Q-values in NumPy, from its weights (kernel, bias per layer): what the page and a played
    episode use, away from the training loop."""
    out = np.asarray(states, dtype=np.float32)
    for index in range(0, len(weights), 2):
        out = out @ weights[index] + weights[index + 1]
        if index + 2 < len(weights):
            out = np.maximum(out, 0.0)
    return out


class DqnTrainer(ChunkedLoop):
    """K copies of one DQN (one per target τ) on the shared chunked loop, each with its own buffer, cart and target
    network, in lockstep (`jax.vmap`) from the same weights and the same random stream: an iteration is BLOCK
    environment steps, its row ROW_KEYS per copy. The live hyperparameters: learning rate, γ, final ε, and each
    copy's τ."""

    def __init__(self, hidden: int, buffer: int, epsilon_steps: int, copies: int, seed: int, max_chunk: int):
        import jax
        import jax.numpy as jnp

        from core.engine.backend import load_keras

        keras = load_keras()
        super().__init__(max_chunk, (copies, len(ROW_KEYS)))
        self.model = q_network(hidden, seed)
        self.optimizer = keras.optimizers.Adam(learning_rate=1e-3)
        self.optimizer.build(self.model.trainable_variables)
        self.rate_slot = learning_rate_slot(self.optimizer)
        self.capacity, self.epsilon_steps, self.copies = int(buffer), int(epsilon_steps), int(copies)
        self.warmup = min(WARMUP, self.capacity)
        trainable, _, optimizer_vars = variable_values(self.model, self.optimizer)
        key = jax.random.PRNGKey(int(seed))
        key, start_key = jax.random.split(key)
        one = {
            "online": trainable,
            "target": trainable,
            "optimizer": optimizer_vars,
            "states": jnp.zeros((self.capacity, 4)),
            "actions": jnp.zeros(self.capacity, dtype=jnp.int32),
            "next_states": jnp.zeros((self.capacity, 4)),
            "terminated": jnp.zeros(self.capacity),
            "cart": jax.random.uniform(start_key, (4,), minval=-0.05, maxval=0.05),
            "length": jnp.int32(0),
            "recent": jnp.full(RECENT, jnp.nan),
            "episodes": jnp.int32(0),
            "step": jnp.int32(0),
            "key": key,
        }
        self.state = jax.tree_util.tree_map(lambda leaf: jnp.stack([leaf] * self.copies), one)

    def q(self, weights, states):
        out, _ = self.model.stateless_call(weights, [], states)
        return out

    def loss(self, online, target, states, actions, rewards, next_states, terminated, gamma):
        import jax.numpy as jnp

        y = td_targets(self.q(target, next_states), rewards, terminated, gamma, jnp)
        chosen = jnp.take_along_axis(self.q(online, states), actions[:, None], axis=1)[:, 0]
        return jnp.mean(huber(y - chosen, jnp)), jnp.mean(jnp.max(self.q(online, states), axis=1))

    def env_step(self, carry, hyper):
        """One environment step of one copy, and learning from a batch once the buffer has WARMUP steps."""
        import jax
        import jax.numpy as jnp
        from jax import lax

        rate, gamma, epsilon_end, tau = hyper
        key, explore_key, action_key, batch_key, reset_key = jax.random.split(carry["key"], 5)
        epsilon = epsilon_at(carry["step"], self.epsilon_steps, epsilon_end, jnp)
        greedy = jnp.argmax(self.q(carry["online"], carry["cart"][None])[0])
        action = jnp.where(
            jax.random.uniform(explore_key) < epsilon, jax.random.randint(action_key, (), 0, len(ACTIONS)), greedy
        ).astype(jnp.int32)
        moved, fell = cartpole_step(carry["cart"], action, jnp)
        slot = carry["step"] % self.capacity
        carry = carry | {
            "states": carry["states"].at[slot].set(carry["cart"]),
            "actions": carry["actions"].at[slot].set(action),
            "next_states": carry["next_states"].at[slot].set(moved),
            "terminated": carry["terminated"].at[slot].set(fell.astype(jnp.float32)),
            "step": carry["step"] + 1,
            "length": carry["length"] + 1,
            "key": key,
        }

        def learn(carry):
            filled = jnp.minimum(carry["step"], self.capacity)
            picks = jax.random.randint(batch_key, (BATCH,), 0, filled)
            (loss, q_mean), grads = jax.value_and_grad(self.loss, has_aux=True)(
                carry["online"],
                carry["target"],
                carry["states"][picks],
                carry["actions"][picks],
                jnp.ones(BATCH),  # CartPole pays 1 for every step
                carry["next_states"][picks],
                carry["terminated"][picks],
                gamma,
            )
            optimizer_vars = with_learning_rate(carry["optimizer"], self.rate_slot, rate)
            online, optimizer_vars = self.optimizer.stateless_apply(optimizer_vars, grads, carry["online"])
            return carry | {"online": online, "optimizer": optimizer_vars}, loss, q_mean

        def wait(carry):
            return carry, jnp.float32(jnp.nan), jnp.float32(jnp.nan)

        carry, loss, q_mean = lax.cond(carry["step"] >= self.warmup, learn, wait, carry)
        carry["target"] = follow(carry["target"], carry["online"], tau)
        ended = fell | (carry["length"] >= MAX_STEPS)
        finished_return = carry["length"].astype(jnp.float32)
        carry["recent"] = jnp.where(ended, jnp.roll(carry["recent"], -1).at[-1].set(finished_return), carry["recent"])
        carry["episodes"] = carry["episodes"] + ended.astype(jnp.int32)
        carry["cart"] = jnp.where(ended, jax.random.uniform(reset_key, (4,), minval=-0.05, maxval=0.05), moved)
        carry["length"] = jnp.where(ended, 0, carry["length"])
        return carry, (loss, q_mean, epsilon)

    def block(self, carry, hyper, tau):
        """BLOCK steps of one copy and its row."""
        import jax.numpy as jnp
        from jax import lax

        carry, (losses, q_means, epsilons) = lax.scan(
            lambda c, _: self.env_step(c, (*hyper, tau)), carry, None, length=BLOCK
        )
        recent = carry["recent"]
        row = jnp.stack(
            [
                recent[-1],
                jnp.nanmean(recent),
                carry["episodes"].astype(jnp.float32),
                epsilons[-1],
                jnp.nanmean(losses),
                jnp.nanmean(q_means),
            ]
        )
        return carry, row

    def iterate(self, state, hyper, variant):
        import jax

        rate, gamma, epsilon_end, taus = hyper
        return jax.vmap(self.block, in_axes=(0, None, 0))(state, (rate, gamma, epsilon_end), taus)

    def run(self, n: int, rate: float, gamma: float, epsilon_end: float, taus: Sequence[float]) -> np.ndarray:
        """n more blocks; their rows (n, copies, ROW_KEYS)."""
        hyper = (np.float32(rate), np.float32(gamma), np.float32(epsilon_end), np.asarray(taus, dtype=np.float32))
        return self.advance(n, hyper)

    def weights(self, copy: int) -> list[np.ndarray]:
        return [np.asarray(w[copy]) for w in self.state["online"]]

    def cart(self, copy: int) -> np.ndarray:
        return np.asarray(self.state["cart"][copy])


@dataclass(frozen=True)
class DqnSnapshot:
    steps: int
    variants: tuple[str, ...]
    weights: Mapping[str, list[np.ndarray]]
    """Each network's kernels and biases now (for its Q-values and for playing)."""
    carts: Mapping[str, np.ndarray]
    """Each network's cart now: (x, ẋ, θ, θ̇)."""

    @property
    def epoch(self) -> int:
        """Rows published so far (blocks of BLOCK steps)."""
        return self.steps // BLOCK


def variant_taus(variants: Sequence[str], tau: float) -> list[float]:
    """The τ each network follows: the chosen one, or 1 (the network is its own target)."""
    return [1.0 if variant == WITHOUT_TARGET else float(tau) for variant in variants]


@task_factory
def dqn_task(config: Mapping[str, Any]) -> TrainingTask:
    """The live run: the chosen networks learn CartPole in lockstep, BLOCK environment steps per row."""
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)
    chosen = tuple(name for name in VARIANTS if name in fixed["variants"])

    def train(ctx: TrainingContext):
        trainer = DqnTrainer(
            int(fixed["hidden"]),
            int(fixed["buffer"]),
            int(fixed["epsilon_steps"]),
            len(chosen),
            int(fixed["seed"]),
            MAX_CHUNK,
        )

        def snapshot() -> DqnSnapshot:
            steps = int(np.asarray(trainer.state["step"][0]))
            return DqnSnapshot(
                steps,
                chosen,
                {name: trainer.weights(index) for index, name in enumerate(chosen)},
                {name: trainer.cart(index) for index, name in enumerate(chosen)},
            )

        ctx.replace_snapshot(snapshot())

        def step(n: int, values) -> list[dict[str, float]]:
            blocks = trainer.run(
                n,
                float(values["learning_rate"]),
                float(values["gamma"]),
                float(values["epsilon_end"]),
                variant_taus(chosen, values["tau"]),
            )
            rows = []
            for block in blocks:
                row = {}
                for name, values_of_copy in zip(chosen, block):
                    for metric, value in zip(ROW_KEYS, values_of_copy):
                        if np.isfinite(value):  # no episode has ended yet, or no learning before WARMUP
                            row[row_key(metric, name)] = float(value)
                rows.append(row)
            return rows

        train_in_chunks(ctx, step, snapshot, lambda values: SPEEDS[values["speed"]], MAX_CHUNK)

    return TrainingTask(
        run=RUN, config=fixed, train=train, epochs=int(fixed["steps"]) // BLOCK, live=live, unit="block"
    )


@dataclass(frozen=True)
class PlayedEpisode:
    states: np.ndarray
    """(steps + 1, 4): the cart from its first state to its last."""
    actions: np.ndarray
    q: np.ndarray
    """(steps, 2): the network's Q-values at each state it acted in."""
    fell: bool

    @property
    def ending(self) -> str:
        """How the episode ended, in words."""
        if not self.fell:
            return f"it kept the pole up all {self.steps} steps"
        if abs(self.states[-1, 0]) > physics()["x_limit"]:
            return f"the cart ran off the end of the track after {self.steps} steps"
        return f"the pole tipped past {tipping_angle():.0f}° after {self.steps} steps"

    @property
    def steps(self) -> int:
        return len(self.actions)


def play_episode(weights: Sequence[np.ndarray], seed: int) -> PlayedEpisode:
    """The network playing one episode greedily in gymnasium's own CartPole-v1 (up to 500 steps)."""
    import gymnasium

    env = gymnasium.make("CartPole-v1")
    state, _ = env.reset(seed=int(seed))
    states, actions, qs, fell = [state], [], [], False
    for _ in range(MAX_STEPS):
        q = q_values(weights, state[None])[0]
        action = int(np.argmax(q))
        state, _, terminated, truncated, _ = env.step(action)
        states.append(state)
        actions.append(action)
        qs.append(q)
        if terminated or truncated:
            fell = bool(terminated)
            break
    env.close()
    return PlayedEpisode(np.array(states), np.array(actions), np.array(qs), fell)


def most_a_state_is_worth(gamma: float) -> float:
    """The discounted return of a perfect episode from its first state: 1 + γ + … + γ⁴⁹⁹; no Q-value should exceed
    it."""
    return float((1 - gamma**MAX_STEPS) / (1 - gamma))


@dataclass(frozen=True)
class VariantNotice:
    episodes: int
    mean_return: float | None
    best_mean: float | None
    solved_at: int | None
    """The first environment step at which the last RECENT episodes averaged SOLVED or more."""
    q: float | None
    """The mean max Q on the latest learning batches."""


def variant_notice(history: Sequence[Mapping[str, float]], variant: str) -> VariantNotice:
    means = [
        (int(row["epoch"]), row[row_key("mean return", variant)])
        for row in history
        if row_key("mean return", variant) in row
    ]
    last = history[-1] if history else {}
    solved = next((block * BLOCK for block, mean in means if mean >= SOLVED), None)
    return VariantNotice(
        int(last.get(row_key("episodes", variant), 0)),
        means[-1][1] if means else None,
        max(mean for _, mean in means) if means else None,
        solved,
        last.get(row_key("q", variant)),
    )
