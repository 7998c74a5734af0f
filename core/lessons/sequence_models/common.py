"""What the lesson's runs share: the seed and live Adam learning-rate controls."""

from core.engine.params import Control, live_rate

SEED = Control("seed", "Seed", "int", 0, min=0, max=9999)
LEARNING_RATE = live_rate("Learning rate (Adam)", 0.005, (0.001, 0.002, 0.005, 0.01, 0.03))


def train_live(ctx, loop, metrics, snapshot, speeds, max_chunk: int, extra=None) -> None:
    """Train a lesson loop live at the live learning rate, one row per epoch named by `metrics`; `snapshot(epochs
    done)` is what the page draws; `extra()` adds measures computed outside the jitted epoch, once per call."""
    import numpy as np

    from core.engine.pacing import train_in_chunks

    done = {"epochs": 0}

    def step(n: int, values) -> list[dict[str, float]]:
        rows = loop.advance(n, np.float32(values["learning_rate"]))
        done["epochs"] += n
        more = extra() if extra is not None else {}
        return [{**dict(zip(metrics, map(float, row))), **more} for row in rows]

    ctx.replace_snapshot(snapshot(0))
    train_in_chunks(ctx, step, lambda: snapshot(done["epochs"]), lambda values: speeds[values["speed"]], max_chunk)
