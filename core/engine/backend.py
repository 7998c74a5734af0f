"""The one place that loads Keras and JAX, lazily, so that Home renders before they are imported.

Streamlit calls `keras.backend.clear_session()` after every script run. In Keras 3 that replaces the
thread-local global state of *every* thread, so a job tracing or compiling in another thread fails
(`TypeError: 'NoneType' object is not callable`). `load_keras` replaces that function with a guard
that does nothing while any Keras work is in flight (`keras_in_use`), and otherwise clears Keras' state
without the full garbage collection Keras adds to it (`gc.collect()`, 130–260 ms on a server that has Keras
and JAX loaded: after every page's and every live panel's rerun, with nothing training, a class of 30 spent 52 s
of a minute in it, pages taking 8–14 s to load). Python's own collector frees the rest, as with Streamlit's
post-run collection, which `.streamlit/config.toml` turns off for the same reason.
"""

from __future__ import annotations

import functools
import importlib.metadata
import threading
from contextlib import contextmanager

import core  # noqa: F401  (sets KERAS_BACKEND before keras can be imported)

_lock = threading.Lock()
_import_lock = threading.Lock()
"""Keras is imported by one thread at a time: the warm-up thread and a job's thread importing it at once
can hand one of them half-initialised Keras modules (a model then fails to build)."""
_users = 0
_original_clear_session = None
_skipped_clears = 0


def load_keras():
    """Import keras (JAX backend) with the clear_session guard installed; returns the module."""
    global _original_clear_session
    with _import_lock:
        import keras

    with _lock:
        if _original_clear_session is None:
            _original_clear_session = keras.backend.clear_session
            keras.backend.clear_session = _guarded_clear_session
            keras.utils.clear_session = _guarded_clear_session
    return keras


def _guarded_clear_session(free_memory: bool = False):
    """Clear Keras' state only while nobody uses it, and hold the lock while clearing: a job that began
    between the check and the clear had its layers' names reset mid-model (two layers named 'dense')."""
    global _skipped_clears
    with _lock:
        if _users:
            _skipped_clears += 1
            return None
        return _original_clear_session(free_memory=free_memory)


def skipped_clear_sessions() -> int:
    """How many clear_session calls the guard has absorbed (tests and the engine room show it)."""
    return _skipped_clears


@contextmanager
def keras_in_use():
    """Mark a stretch of Keras work (a job's whole life, an inference) so nobody resets Keras under it."""
    global _users
    load_keras()
    with _lock:
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1


def jax_device() -> str:
    """The device JAX computes on, in words: 'CPU' or the GPU's name."""
    import jax

    device = jax.devices()[0]
    if device.platform == "cpu":
        return "CPU"
    return f"{device.device_kind} ({device.platform.upper()})"


@functools.lru_cache(maxsize=4)
def library_versions(
    names=("streamlit", "keras", "jax", "jaxlib", "numpy", "plotly", "scikit-learn"),
) -> dict[str, str]:
    """Installed versions of the libraries the app stands on (read from metadata: no import). Read once per
    process: every page shows them, and searching the installed packages' metadata takes tens of milliseconds."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
