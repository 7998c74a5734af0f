"""What every GAN of the lesson shares: the losses, the tricks as switches, and the training loop.

The loop alternates two Keras models with two Adam optimisers: `d_steps` discriminator updates on a
fresh real batch and a fresh fake batch each, then one generator update. It is one jitted function
built from `stateless_call` and `optimizer.stateless_apply` that runs many iterations per call, so
the page can watch, pause, step and change the learning rates between calls. What to train is
chosen per call: both networks, the discriminator only or the generator only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engine.params import Control

BOTH, D_ONLY, G_ONLY = "both", "discriminator only", "generator only"
TRAIN_MODES = (BOTH, D_ONLY, G_ONLY)
NON_SATURATING, MINIMAX = "non-saturating: −log D(G(z))", "minimax: log(1 − D(G(z)))"
LEAKY_RELU, RELU = "leaky ReLU", "ReLU"


def trick_controls(defaults: Mapping[str, Any]) -> tuple[Control, ...]:
    """The training tricks as controls, with a lesson's own defaults."""
    return (
        Control(
            "label_smoothing",
            "Label smoothing",
            "toggle",
            defaults["label_smoothing"],
            help="The discriminator aims at 0.9 for real samples instead of 1, so it cannot grow over-confident.",
        ),
        Control(
            "activation",
            "Hidden activation",
            "select",
            defaults["activation"],
            options=(LEAKY_RELU, RELU),
            help="Leaky ReLU passes a small gradient for negative inputs, so no unit goes silent.",
        ),
        Control(
            "batchnorm",
            "Batch normalisation",
            "toggle",
            defaults["batchnorm"],
            help="In hidden layers only: never on the generator's output or the discriminator's input.",
        ),
        Control(
            "beta_1",
            "Adam β1",
            "select",
            defaults["beta_1"],
            options=(0.5, 0.9),
            help="0.5 (DCGAN's choice) lets each network react faster to the other's latest move.",
        ),
        Control(
            "from_logits",
            "Losses from logits",
            "toggle",
            defaults["from_logits"],
            help="Compute log D from the logit with softplus (exact) rather than from the probability D, which Keras "
            "clips to [10⁻⁷, 1 − 10⁻⁷]: past the clip the loss is flat and that network stops learning.",
        ),
        Control(
            "generator_loss",
            "Generator loss",
            "select",
            defaults["generator_loss"],
            options=(NON_SATURATING, MINIMAX),
            help="Minimax is the paper's game; its gradient vanishes while the discriminator wins.",
        ),
        Control("d_steps", "Discriminator steps per generator step", "int", defaults["d_steps"], min=1, max=5),
        Control(
            "lr_d", "Discriminator learning rate", "float", defaults["lr_d"], min=1e-4, max=0.01, step=1e-4, live=True
        ),
        Control("lr_g", "Generator learning rate", "float", defaults["lr_g"], min=1e-4, max=0.01, step=1e-4, live=True),
    )


TRICKS_TABLE = """
| Switch | What it does | Why it helps |
|---|---|---|
| Label smoothing | D aims at 0.9 for real samples, not 1 (Salimans et al. 2016) | D cannot become over-confident, so its gradient stays useful to G |
| Leaky ReLU | a slope of 0.2 for negative inputs | gradients reach the generator through every unit |
| Batch normalisation | normalises each hidden layer over the batch; never on G's output or D's input | keeps activations in range in deeper networks (DCGAN) |
| tanh output on −1…1 | data scaled to be centred on 0 (image GAN) | a symmetric target that matches tanh's range (DCGAN) |
| Adam β1 = 0.5 | shorter momentum memory | each network reacts to the other's latest move, not an old one |
| Losses from logits | log D computed as −softplus(−l) | exact for any logit; from probabilities D must be clipped away from 0 and 1 (Keras clips at 10⁻⁷), and beyond the clip the loss is flat: no gradient at all |
| Non-saturating loss | G minimises −log D(G(z)) instead of log(1 − D(G(z))) | strong gradient exactly when G is losing (Goodfellow et al. 2014) |
| D steps per G step | several discriminator updates for each generator update | keeps D a useful critic |
| Separate learning rates | a faster discriminator (Heusel et al. 2017's two time scales) | D tracks G, so G chases a stable target |
"""  # noqa: E501 (a Markdown table: a row is one line)


def _softplus(x):
    import jax

    return jax.nn.softplus(x)


PROBABILITY_EPSILON = 1e-7
"""Keras' own clip for a loss computed from probabilities (`keras.config.epsilon()`): D is kept in
[ε, 1 − ε], so a saturated log term is at most −log ε ≈ 16.1 and its gradient is exactly 0."""


def _log_probabilities(logits):
    """log D and log(1 − D) from the probability D = σ(l), clipped as Keras clips it: finite for every
    logit, and flat (zero gradient) once D is within ε of 0 or 1: the saturation the lesson shows."""
    import jax
    import jax.numpy as jnp

    p = jnp.clip(jax.nn.sigmoid(logits), PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON)
    return jnp.log(p), jnp.log(1 - p)


def _cross_entropy(logits, target: float, from_logits: bool):
    """−(t log D + (1 − t) log(1 − D)) per sample. A term whose weight is exactly 0 is left out rather
    than multiplied by 0, so a saturated log never meets a 0 weight."""
    if from_logits:
        log_p, log_not_p = -_softplus(-logits), -_softplus(logits)
    else:
        log_p, log_not_p = _log_probabilities(logits)
    terms = [weight * log for weight, log in ((target, log_p), (1 - target, log_not_p)) if weight]
    return -sum(terms)


def discriminator_loss(real_logits, fake_logits, from_logits: bool = True, smoothing: float = 0.0):
    """Binary cross-entropy with real labels 1 − smoothing and fake labels 0. From logits:
    −log σ(l) = softplus(−l) and −log(1 − σ(l)) = softplus(l), exact for any logit. From
    probabilities: D = σ(l) clipped to [ε, 1 − ε] as Keras does, so the loss saturates instead."""
    import jax.numpy as jnp

    real = _cross_entropy(real_logits, 1.0 - smoothing, from_logits)
    fake = _cross_entropy(fake_logits, 0.0, from_logits)
    return jnp.mean(real) + jnp.mean(fake)


def generator_loss(fake_logits, kind: str = NON_SATURATING, from_logits: bool = True):
    """Non-saturating −log D(G(z)) or minimax log(1 − D(G(z))), to be minimised."""
    import jax.numpy as jnp

    if kind == NON_SATURATING:
        return jnp.mean(_cross_entropy(fake_logits, 1.0, from_logits))
    return -jnp.mean(_cross_entropy(fake_logits, 0.0, from_logits))


@dataclass(frozen=True)
class LossSettings:
    from_logits: bool
    smoothing: float
    generator_loss: str
    d_steps: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LossSettings:
        return cls(
            bool(config["from_logits"]),
            0.1 if config["label_smoothing"] else 0.0,
            config["generator_loss"],
            int(config["d_steps"]),
        )


ROW_KEYS = ("d_loss", "g_loss", "d_real", "d_fake")
"""One row per iteration: both losses and the mean D(x) on the last real and fake batches."""


class GanTrainer:
    """Two Keras models, two Adam optimisers and the jitted alternating loop. `run(n, lr_d, lr_g,
    mode)` trains n iterations and returns their rows (ROW_KEYS); the state lives in `self.state`."""

    def __init__(
        self,
        generator,
        discriminator,
        real: np.ndarray,
        latent_dim: int,
        batch_size: int,
        losses: LossSettings,
        beta_1: float,
        seed: int,
        max_chunk: int,
    ):
        import jax
        import jax.numpy as jnp
        from jax import lax

        from core.engine.backend import load_keras

        keras = load_keras()
        self.generator, self.discriminator, self.latent_dim = generator, discriminator, int(latent_dim)
        self.max_chunk, self.iteration = int(max_chunk), 0
        optimisers = [keras.optimizers.Adam(learning_rate=1e-3, beta_1=beta_1) for _ in range(2)]
        for optimiser, model in zip(optimisers, (discriminator, generator)):
            optimiser.build(model.trainable_variables)
        lr_index = next(i for i, v in enumerate(optimisers[0].variables) if v.path.endswith("learning_rate"))
        real = jnp.asarray(real)
        batch = int(min(batch_size, len(real)))
        d_opt, g_opt = optimisers

        def latent(key, n):
            return jax.random.normal(key, (n, self.latent_dim))

        def d_objective(d_vars, d_fixed, g_vars, g_fixed, real_batch, z):
            fake, _ = generator.stateless_call(g_vars, g_fixed, z, training=True)
            # real and fake in separate batches, as DCGAN advises when batch norm is on
            real_logits, d_fixed = discriminator.stateless_call(d_vars, d_fixed, real_batch, training=True)
            fake_logits, d_fixed = discriminator.stateless_call(d_vars, d_fixed, fake, training=True)
            loss = discriminator_loss(real_logits, fake_logits, losses.from_logits, losses.smoothing)
            return loss, (d_fixed, jnp.mean(jax.nn.sigmoid(real_logits)), jnp.mean(jax.nn.sigmoid(fake_logits)))

        def g_objective(g_vars, g_fixed, d_vars, d_fixed, z):
            fake, g_fixed = generator.stateless_call(g_vars, g_fixed, z, training=True)
            logits, _ = discriminator.stateless_call(d_vars, d_fixed, fake, training=True)
            return generator_loss(logits, losses.generator_loss, losses.from_logits), g_fixed

        def with_rate(opt_vars, rate):
            opt_vars = list(opt_vars)
            opt_vars[lr_index] = rate.astype(opt_vars[lr_index].dtype)
            return opt_vars

        def iteration(train_d: bool, train_g: bool):
            def body(index, carry):
                (d_vars, d_fixed, d_opt_vars, g_vars, g_fixed, g_opt_vars, key), rows, rates = carry
                d_loss = d_real = d_fake = jnp.float32(0)
                for _ in range(losses.d_steps if train_d else 1):
                    key, pick_key, z_key = jax.random.split(key, 3)
                    real_batch = real[jax.random.choice(pick_key, len(real), (batch,), replace=False)]
                    (d_loss, (new_fixed, d_real, d_fake)), grads = jax.value_and_grad(d_objective, has_aux=True)(
                        d_vars, d_fixed, g_vars, g_fixed, real_batch, latent(z_key, batch)
                    )
                    if train_d:
                        d_fixed = new_fixed
                        d_vars, d_opt_vars = d_opt.stateless_apply(with_rate(d_opt_vars, rates[0]), grads, d_vars)
                key, z_key = jax.random.split(key)
                (g_loss, new_g_fixed), grads = jax.value_and_grad(g_objective, has_aux=True)(
                    g_vars, g_fixed, d_vars, d_fixed, latent(z_key, batch)
                )
                if train_g:
                    g_fixed = new_g_fixed
                    g_vars, g_opt_vars = g_opt.stateless_apply(with_rate(g_opt_vars, rates[1]), grads, g_vars)
                row = jnp.stack([d_loss, g_loss, d_real, d_fake])
                return (d_vars, d_fixed, d_opt_vars, g_vars, g_fixed, g_opt_vars, key), rows.at[index].set(row), rates

            return body

        def make_run(train_d: bool, train_g: bool):
            @jax.jit
            def run(state, n, rates):
                state, rows, _ = lax.fori_loop(
                    0, n, iteration(train_d, train_g), (state, jnp.zeros((self.max_chunk, len(ROW_KEYS))), rates)
                )
                return state, rows

            return run

        self._runs = {BOTH: make_run(True, True), D_ONLY: make_run(True, False), G_ONLY: make_run(False, True)}
        self.state = (
            [v.value for v in discriminator.trainable_variables],
            [v.value for v in discriminator.non_trainable_variables],
            [v.value for v in d_opt.variables],
            [v.value for v in generator.trainable_variables],
            [v.value for v in generator.non_trainable_variables],
            [v.value for v in g_opt.variables],
            jax.random.PRNGKey(int(seed)),
        )

    def run(self, n: int, lr_d: float, lr_g: float, mode: str = BOTH) -> list[dict[str, float]]:
        if not 1 <= n <= self.max_chunk:
            raise ValueError(f"n must be 1…{self.max_chunk}")
        rates = np.array([lr_d, lr_g], dtype="float32")
        self.state, rows = self._runs[mode](self.state, n, rates)
        self.iteration += n
        return [dict(zip(ROW_KEYS, map(float, row))) for row in np.asarray(rows)[:n]]

    def generator_variables(self) -> tuple[list, list]:
        return self.state[3], self.state[4]

    def discriminator_variables(self) -> tuple[list, list]:
        return self.state[0], self.state[1]

    def generate(self, z: np.ndarray) -> np.ndarray:
        """The generator's samples for given latent vectors (inference mode)."""
        out, _ = self.generator.stateless_call(
            *self.generator_variables(), np.asarray(z, dtype="float32"), training=False
        )
        return np.asarray(out)

    def discriminate(self, x: np.ndarray) -> np.ndarray:
        """D(x), the discriminator's probability that x is real."""
        import jax

        logits, _ = self.discriminator.stateless_call(
            *self.discriminator_variables(), np.asarray(x, dtype="float32"), training=False
        )
        return np.asarray(jax.nn.sigmoid(logits))[:, 0]


def hidden_activation(name: str):
    from core.engine.backend import load_keras

    keras = load_keras()
    return keras.layers.LeakyReLU(negative_slope=0.2) if name == LEAKY_RELU else keras.layers.ReLU()
