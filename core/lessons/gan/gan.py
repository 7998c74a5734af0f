"""What every GAN of the lesson shares: the losses, the tricks as switches, and the training loop.

The loop alternates two Keras models with two Adam optimisers: `d_steps` discriminator updates on a
fresh real batch and a fresh fake batch each, then one generator update. It runs on the shared jitted
loop (`core.engine.loop.ChunkedLoop`), many iterations per call, so the page can watch, pause, step
and change the learning rates between calls. What to train is chosen per call: both networks, the
discriminator only or the generator only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engine.loop import ChunkedLoop, learning_rate_slot, variable_values, with_learning_rate
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


class GanTrainer(ChunkedLoop):
    """Two Keras models and two Adam optimisers on the shared jitted loop, one row (ROW_KEYS) per
    iteration. `run(n, lr_d, lr_g, mode)` trains n iterations; the state lives in `self.state`:
    (D variables, D non-trainable, D optimiser, G variables, G non-trainable, G optimiser, key)."""

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

        from core.engine.backend import load_keras

        keras = load_keras()
        super().__init__(max_chunk, (len(ROW_KEYS),))
        self.generator, self.discriminator, self.latent_dim = generator, discriminator, int(latent_dim)
        self.losses, self.iteration = losses, 0
        self.d_optimizer, self.g_optimizer = (keras.optimizers.Adam(learning_rate=1e-3, beta_1=beta_1) for _ in "dg")
        self.d_optimizer.build(discriminator.trainable_variables)
        self.g_optimizer.build(generator.trainable_variables)
        self.rate_slot = learning_rate_slot(self.d_optimizer)
        self.real = jnp.asarray(real)
        self.batch = int(min(batch_size, len(real)))
        self.state = (
            *variable_values(discriminator, self.d_optimizer),
            *variable_values(generator, self.g_optimizer),
            jax.random.PRNGKey(int(seed)),
        )

    def latent(self, key):
        import jax

        return jax.random.normal(key, (self.batch, self.latent_dim))

    def discriminator_loss_and_updates(self, d_vars, d_fixed, g_vars, g_fixed, real_batch, z):
        """D's loss on a real and a fake batch; its new non-trainable variables and mean D(x) on each."""
        import jax
        import jax.numpy as jnp

        fake, _ = self.generator.stateless_call(g_vars, g_fixed, z, training=True)
        # real and fake in separate batches, as DCGAN advises when batch norm is on
        real_logits, d_fixed = self.discriminator.stateless_call(d_vars, d_fixed, real_batch, training=True)
        fake_logits, d_fixed = self.discriminator.stateless_call(d_vars, d_fixed, fake, training=True)
        loss = discriminator_loss(real_logits, fake_logits, self.losses.from_logits, self.losses.smoothing)
        return loss, (d_fixed, jnp.mean(jax.nn.sigmoid(real_logits)), jnp.mean(jax.nn.sigmoid(fake_logits)))

    def generator_loss_and_updates(self, g_vars, g_fixed, d_vars, d_fixed, z):
        """G's loss through D on a fake batch, and G's new non-trainable variables."""
        fake, g_fixed = self.generator.stateless_call(g_vars, g_fixed, z, training=True)
        logits, _ = self.discriminator.stateless_call(d_vars, d_fixed, fake, training=True)
        return generator_loss(logits, self.losses.generator_loss, self.losses.from_logits), g_fixed

    def iterate(self, state, rates, mode):
        """One train step: `d_steps` discriminator updates (one, unapplied, when only G learns), then one
        generator update (unapplied when only D learns); the row has the last losses and mean D(x)."""
        import jax
        import jax.numpy as jnp

        train_d, train_g = mode != G_ONLY, mode != D_ONLY
        d_vars, d_fixed, d_opt_vars, g_vars, g_fixed, g_opt_vars, key = state
        d_loss = d_real = d_fake = jnp.float32(0)
        for _ in range(self.losses.d_steps if train_d else 1):
            key, pick_key, z_key = jax.random.split(key, 3)
            real_batch = self.real[jax.random.choice(pick_key, len(self.real), (self.batch,), replace=False)]
            (d_loss, (new_fixed, d_real, d_fake)), grads = jax.value_and_grad(
                self.discriminator_loss_and_updates, has_aux=True
            )(d_vars, d_fixed, g_vars, g_fixed, real_batch, self.latent(z_key))
            if train_d:
                d_fixed = new_fixed
                d_opt_vars = with_learning_rate(d_opt_vars, self.rate_slot, rates[0])
                d_vars, d_opt_vars = self.d_optimizer.stateless_apply(d_opt_vars, grads, d_vars)
        key, z_key = jax.random.split(key)
        (g_loss, new_g_fixed), grads = jax.value_and_grad(self.generator_loss_and_updates, has_aux=True)(
            g_vars, g_fixed, d_vars, d_fixed, self.latent(z_key)
        )
        if train_g:
            g_fixed = new_g_fixed
            g_opt_vars = with_learning_rate(g_opt_vars, self.rate_slot, rates[1])
            g_vars, g_opt_vars = self.g_optimizer.stateless_apply(g_opt_vars, grads, g_vars)
        state = (d_vars, d_fixed, d_opt_vars, g_vars, g_fixed, g_opt_vars, key)
        return state, jnp.stack([d_loss, g_loss, d_real, d_fake])

    def run(self, n: int, lr_d: float, lr_g: float, mode: str = BOTH) -> list[dict[str, float]]:
        rows = self.advance(n, np.array([lr_d, lr_g], dtype="float32"), mode)
        self.iteration += n
        return [dict(zip(ROW_KEYS, map(float, row))) for row in rows]

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
