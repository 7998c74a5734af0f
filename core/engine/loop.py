"""The one jitted training loop every live lesson runs on.

Written in the style of keras-io's "custom train step in JAX" guide: the model is called statelessly
(`model.stateless_call`) and the optimiser applied statelessly (`optimizer.stateless_apply`), so many
steps, and many epochs, run inside one `jax.jit` call. `ChunkedLoop` runs n iterations (1…max_chunk)
per call and writes one row per iteration into a buffer of fixed size, so a page can change n (its
speed) without compiling again; hyperparameters are arguments of the call, so a live slider changes
them without compiling again either.

`MiniBatchLoop` is the supervised case: an iteration is an epoch of shuffled mini-batches and its row
the evaluation after it. A lesson subclasses it to say what its loss is (`compute_loss_and_updates`)
and what a row holds (`evaluate`); `copies=True` trains K stacked copies of one network in lockstep
(`jax.vmap`) on the same batches. `host_loop=True` runs the same epochs with the loop over batches in Python, one
jitted step per batch: XLA on CPU runs convolutions inside a loop body many times slower than alone (jax#12868;
measured 12× for the residual networks' epoch), so convolutional lessons take it. Both give the same numbers.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np


def learning_rate_slot(optimizer) -> int:
    """Where a built Keras optimiser keeps its learning rate among its variables."""
    return next(i for i, v in enumerate(optimizer.variables) if v.path.endswith("learning_rate"))


def step_slot(optimizer) -> int:
    """Where a built Keras optimiser counts its steps among its variables."""
    return next(i for i, v in enumerate(optimizer.variables) if v.path.endswith("iteration"))


def with_learning_rate(optimizer_vars, slot: int, rate) -> list:
    """The optimiser's variables with the learning rate replaced by `rate`, a traced value: the live slider."""
    optimizer_vars = list(optimizer_vars)
    optimizer_vars[slot] = rate.astype(optimizer_vars[slot].dtype)
    return optimizer_vars


def variable_values(model, optimizer) -> tuple[list, list, list]:
    """The values a stateless loop carries: the model's trainable and non-trainable variables, the optimiser's."""
    return (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in optimizer.variables],
    )


class ChunkedLoop:
    """Runs `iterate` n times in one jitted call, collecting a row of `row_shape` per iteration.
    Subclasses say what one iteration is; `state` is whatever pytree it carries, random key included.
    A `variant` (hashable, static) selects one of several compiled iterations, e.g. which GAN players learn."""

    def __init__(self, max_chunk: int, row_shape: tuple[int, ...]):
        self.max_chunk, self.row_shape = int(max_chunk), tuple(row_shape)
        self.state: Any = None
        self._chunks: dict[Any, Any] = {}

    def iterate(self, state, hyper, variant):
        """One iteration (an epoch, one GAN step): the new state and its row."""
        raise NotImplementedError

    def advance(self, n: int, hyper, variant=None) -> np.ndarray:
        """Run `n` more iterations from `self.state`; their rows, as a NumPy array of (n, *row_shape)."""
        if not 1 <= n <= self.max_chunk:
            raise ValueError(f"n must be 1…{self.max_chunk}")
        if variant not in self._chunks:
            self._chunks[variant] = self._compile(variant)
        self.state, rows = self._chunks[variant](self.state, n, hyper)
        return np.asarray(rows)[:n]

    def _compile(self, variant):
        import jax
        import jax.numpy as jnp
        from jax import lax

        def body(index, carry):
            state, rows, hyper = carry
            state, row = self.iterate(state, hyper, variant)
            return state, rows.at[index].set(row), hyper

        @jax.jit
        def run(state, n, hyper):
            state, rows, _ = lax.fori_loop(0, n, body, (state, jnp.zeros((self.max_chunk, *self.row_shape)), hyper))
            return state, rows

        return run


class MiniBatchLoop(ChunkedLoop):
    """A Keras model trained by a Keras optimiser on (x, y): each iteration one epoch of shuffled
    mini-batches of `batch_size` (the last partial batch dropped), its row `evaluate` after the epoch.
    The state is (trainable, non-trainable, optimiser variables, random key); with `copies` the first
    three carry a leading axis of K copies, set by the subclass."""

    def __init__(
        self,
        model,
        optimizer,
        x,
        y,
        batch_size: int,
        seed: int,
        max_chunk: int,
        row_shape,
        copies: bool = False,
        host_loop: bool = False,
    ):
        import jax
        import jax.numpy as jnp

        super().__init__(max_chunk, row_shape)
        self.model, self.optimizer, self.copies, self.host_loop = model, optimizer, copies, host_loop
        self.rate_slot, self.step_slot = learning_rate_slot(optimizer), step_slot(optimizer)
        self.x, self.y = jnp.asarray(x), jnp.asarray(y)
        self.batch = max(1, min(int(batch_size), len(self.x)))
        self.n_batches = len(self.x) // self.batch
        self.state = (*variable_values(model, optimizer), jax.random.PRNGKey(int(seed)))

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        """The loss on one batch and the model's non-trainable variables after it (batch-norm statistics)."""
        raise NotImplementedError

    def evaluate(self, trainable, non_trainable):
        """The row written after each epoch."""
        raise NotImplementedError

    def epoch_row(self, trainable, non_trainable, batch_losses):
        """The row written after each epoch, given the loss of each of its batches as it was trained on (a
        subclass that shows how noisy mini-batches are reads them); `evaluate` unless overridden."""
        return self.evaluate(trainable, non_trainable)

    def learning_rate(self, hyper):
        """The learning rate among the hyperparameters (all of them, unless a subclass carries more)."""
        return hyper

    def rate_factor(self, step):
        """What the learning rate is multiplied by at optimiser step `step` (traced): a schedule; 1 unless a
        subclass has one."""
        return 1.0

    def train_step(self, variables, x, y, hyper):
        """One optimiser step on one batch: the variables after it, and the batch's loss before it."""
        import jax

        trainable, non_trainable, optimizer_vars = variables
        (loss, non_trainable), grads = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)(
            trainable, non_trainable, x, y, hyper
        )
        rate = self.learning_rate(hyper) * self.rate_factor(optimizer_vars[self.step_slot])
        optimizer_vars = with_learning_rate(optimizer_vars, self.rate_slot, rate)
        trainable, optimizer_vars = self.optimizer.stateless_apply(optimizer_vars, grads, trainable)
        return (trainable, non_trainable, optimizer_vars), loss

    def batch_order(self, key):
        """The key after this epoch's shuffle, and the shuffled indices as (batches, batch size)."""
        import jax

        key, shuffle_key = jax.random.split(key)
        order = jax.random.permutation(shuffle_key, len(self.x))[: self.n_batches * self.batch]
        return key, order.reshape(self.n_batches, self.batch)

    def batch_step(self, variables, indices, hyper):
        """One optimiser step on the examples at `indices` (for every copy, with copies)."""
        import jax

        step = jax.vmap(self.train_step, in_axes=(0, None, None, None)) if self.copies else self.train_step
        return step(variables, self.x[indices], self.y[indices], hyper)

    def row_after(self, variables, batch_losses):
        import jax

        row = jax.vmap(self.epoch_row, in_axes=(0, 0, 1)) if self.copies else self.epoch_row
        return row(variables[0], variables[1], batch_losses)

    def iterate(self, state, hyper, variant):
        """One epoch."""
        from jax import lax

        *variables, key = state
        key, batches = self.batch_order(key)
        variables, batch_losses = lax.scan(lambda v, i: self.batch_step(v, i, hyper), tuple(variables), batches)
        return (*variables, key), self.row_after(variables, batch_losses)

    @functools.cached_property
    def _host_parts(self):
        """The host loop's three jitted parts: the epoch's shuffle, one batch's step, the epoch's row."""
        import jax

        return jax.jit(self.batch_order), jax.jit(self.batch_step), jax.jit(self.row_after)

    def advance(self, n: int, hyper, variant=None) -> np.ndarray:
        if not self.host_loop:
            return super().advance(n, hyper, variant)
        import jax.numpy as jnp

        if not 1 <= n <= self.max_chunk:
            raise ValueError(f"n must be 1…{self.max_chunk}")
        order, step, row_after = self._host_parts
        rows = []
        for _ in range(n):
            *variables, key = self.state
            key, batches = order(key)
            variables, losses = tuple(variables), []
            for indices in np.asarray(batches):
                variables, loss = step(variables, indices, hyper)
                losses.append(loss)
            rows.append(row_after(variables, jnp.stack(losses)))
            self.state = (*variables, key)
        return np.asarray(jnp.stack(rows))
