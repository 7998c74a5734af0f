"""Networks trained side by side in one run: each a `MiniBatchLoop` ("copy") with a name, advanced by the same epochs
in turn, its numbers in the run's rows under its name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from core.engine.jobs import RunRefused


def softmax_cross_entropy(logits, labels):
    """The mean cross-entropy of integer labels under the softmax of the logits (traced)."""
    import jax.numpy as jnp
    from jax.nn import log_softmax

    return -jnp.mean(jnp.take_along_axis(log_softmax(logits), labels[:, None], axis=1))


def advance_copies(copies: Sequence[Any], n: int, hyper, diverged: dict[str, int], epochs_done: int):
    """Train every copy that has not diverged `n` more epochs: (those copies, their rows). A copy whose numbers stop
    being finite is noted in `diverged` (the epoch it did; it trains no more) and its rows from there are NaN."""
    training = [copy for copy in copies if copy.name not in diverged]
    results = [copy.advance(n, hyper) for copy in training]
    for copy, result in zip(training, results):
        bad = np.flatnonzero(~np.isfinite(result).all(axis=1))
        if bad.size:
            diverged[copy.name] = epochs_done + int(bad[0]) + 1
            result[bad[0] :] = np.nan
    return training, results


def refuse_once_all_diverged(ctx, copies: Sequence[Any], diverged: dict[str, int], snapshot, message: str) -> None:
    """End the run once every copy's numbers stopped being finite: its last snapshot shown, then `message` (where
    `{first}` is the epoch the first copy diverged) as the reason."""
    if len(diverged) == len(copies):
        ctx.replace_snapshot(snapshot())
        raise RunRefused(message.format(first=min(diverged.values())))


def row_key(metric: str, name: str) -> str:
    """A copy's metric in a run's rows: '<metric> · <copy's name>'."""
    return f"{metric} · {name}"


def named_rows(copies: Sequence[Any], results: Sequence[np.ndarray], metrics: Sequence[str]) -> list[dict[str, float]]:
    """Each epoch's row of a run of copies: every copy's `metrics` under its name, none for a copy whose numbers
    stopped being finite (it diverged: its curves stop there)."""
    rows = []
    for epoch_rows in zip(*results):
        row = {}
        for copy, numbers in zip(copies, epoch_rows):
            if np.isfinite(numbers).all():
                row.update({row_key(metric, copy.name): float(value) for metric, value in zip(metrics, numbers)})
        rows.append(row)
    return rows
