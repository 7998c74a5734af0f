"""Small tasks and waits shared by the engine tests."""

from __future__ import annotations

import time

from core.jobs import JobContext, TrainingTask


def counting_task(name: str = "a", epochs: int = 5, batches: int = 4, batch_s: float = 0.005, losses=None, calls=None):
    """A task without a model: each epoch runs `batches` checkpoints and publishes a loss."""

    def train(ctx: JobContext):
        if calls is not None:
            calls.append(name)
        for epoch in range(ctx.epochs):
            for batch in range(batches):
                ctx.progress(batch, batches)
                ctx.checkpoint()
                time.sleep(batch_s)
            ctx.publish({"loss": losses[epoch] if losses else 1.0 / (epoch + 1)}, snapshot={"epoch": epoch + 1})
        return "done"

    return TrainingTask(lesson="test", config={"name": name, "epochs": epochs}, train=train, epochs=epochs,
                        live={"learning_rate": 0.1})


def wait_until(condition, timeout: float = 30.0, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
