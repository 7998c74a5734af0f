"""A thread that samples a server process at a fixed period while a benchmark runs."""

from __future__ import annotations

import threading

import psutil


class PeriodicSampler:
    """Calls `sample()` every `period_s` in a thread, between `with` and its end."""

    def __init__(self, pid: int, period_s: float):
        self.process, self.period_s = psutil.Process(pid), period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        raise NotImplementedError

    def _run(self):
        while not self._stop.wait(self.period_s):
            self.sample()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
