"""Words spoken by eSpeak NG, synthesised in the app: the library and its voices ship inside the `espeakng-loader`
wheel (the loader MIT, eSpeak NG itself GPL-3.0-or-later), called through ctypes, so nothing is downloaded and no
Debian package is needed.

eSpeak keeps one global state, so every call holds one lock; a word comes back as float32 samples in [-1, 1] at
SYNTH_RATE.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import threading

import numpy as np

SYNTH_RATE = 22050
SYNCHRONOUS = 2
RATE_PARAMETER, PITCH_PARAMETER = 1, 3
_LOCK = threading.Lock()
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class MissingSpeech(RuntimeError):
    """eSpeak NG is not installed; the message says how to install it."""


class _Engine:
    def __init__(self):
        if importlib.util.find_spec("espeakng_loader") is None:
            raise MissingSpeech(
                "The trigger-word section speaks its words with eSpeak NG from the `espeakng-loader` package: run "
                "`pip install espeakng-loader`."
            )
        import espeakng_loader

        self.library = ctypes.CDLL(espeakng_loader.get_library_path())
        self.chunks: list[np.ndarray] = []
        self.callback = _CALLBACK(self._collect)  # kept: the library calls it for as long as it lives
        rate = self.library.espeak_Initialize(SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if rate != SYNTH_RATE:
            raise MissingSpeech(f"eSpeak NG did not start (it answered {rate}): reinstall `espeakng-loader`.")
        self.library.espeak_SetSynthCallback(self.callback)

    def _collect(self, samples, count, events) -> int:
        if count > 0:
            self.chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).astype("float32") / 32768.0)
        return 0

    def say(self, text: str, voice: str, words_per_minute: int, pitch: int) -> np.ndarray:
        self.chunks.clear()
        if self.library.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"eSpeak NG has no voice {voice!r}")
        self.library.espeak_SetParameter(RATE_PARAMETER, int(words_per_minute), 0)
        self.library.espeak_SetParameter(PITCH_PARAMETER, int(pitch), 0)
        encoded = text.encode() + b"\0"
        self.library.espeak_Synth(encoded, len(encoded), 0, 0, 0, 0, None, None)
        self.library.espeak_Synchronize()
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, "float32")


@functools.lru_cache(maxsize=1)
def _engine() -> _Engine:
    return _Engine()


def say(text: str, voice: str = "en", words_per_minute: int = 170, pitch: int = 50) -> np.ndarray:
    """`text` spoken by `voice` at a speed and pitch (0–99), as samples at SYNTH_RATE, silence trimmed."""
    with _LOCK:
        samples = _engine().say(text, voice, words_per_minute, pitch)
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples
