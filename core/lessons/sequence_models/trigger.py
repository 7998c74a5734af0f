"""Trigger-word detection, trained live (as in the sequence-models course's "activate" assistant): clips of
background noise with the trigger word and other words spoken at random places, turned into spectrograms; a Conv1D
reads the spectrogram in steps of STRIDE frames and a GRU runs over those steps, saying at each whether the trigger
has just ended. Its target is 1 for the LABEL_S seconds after each trigger's end, 0 elsewhere.

The words are spoken by eSpeak NG (`speech`) in several voices, speeds and pitches; the noise is generated (brown
noise, mains hum at a random pitch, a little hiss). Everything is at RATE samples a second. A spectrogram is the
power of a Hann-windowed FFT of N_FFT samples every HOP (scipy.signal's 'spectrum' scaling, checked in the tests),
pooled into BANDS mel bands and logged.

Each epoch's row: losses, the held-out share of steps right, and detection F1 on held-out clips: a detection is a
run of steps over 0.5, counted where it starts; it is right if it starts within a trigger's window (each trigger
found at most once).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.loop import MiniBatchLoop
from core.engine.pacing import speed_control
from core.engine.params import Control, ControlBox, fixed_values, live_values
from core.lessons.sequence_models import speech
from core.lessons.sequence_models.common import LEARNING_RATE, SEED, train_live

RUN = "sequence_models/trigger"
RATE = 8000
CLIP_S = 3.0
N_FFT, HOP = 200, 80
"""25 ms windows every 10 ms."""
BANDS = 40
KERNEL, STRIDE = 9, 4
"""The Conv1D reads 9 frames at a time, every 4 frames (40 ms): one output step."""
LABEL_S = 0.4
TRIGGER = "activate"
OTHER_WORDS = ("activity", "actor", "vacation", "banana", "computer", "hello", "morning", "weather", "river", "seven")
"""Words that are not the trigger: a few sound like it."""
VOICES = ("en", "en-us", "en+f3", "en-us+f2", "en-gb-scotland", "en+m3", "en-029", "en-gb-x-rp")
WORDS_PER_MINUTE = (140, 175, 210)
PITCHES = (35, 55, 75)
TEST_CLIPS = 120
MAX_UPLOAD_S = 30.0
MIN_UPLOAD_S = 0.5
SPEEDS = {"slow motion": 0.5, "steady": 2.0, "full speed": None}
"""Epochs per second."""
METRICS = ("loss", "val_loss", "val_step_accuracy", "val_f1")

CONTROLS = (
    Control("clips", "Training clips", "select", 600, options=(200, 600, 1500)),
    Control("units", "GRU units", "select", 64, options=(32, 64, 128)),
    Control("epochs", "Epochs", "int", 20, min=1, max=200),
    SEED,
    LEARNING_RATE,
    speed_control(SPEEDS),
)
BOX = ControlBox("trigger", "Trigger-word detector", CONTROLS, flat=False)


def resample(samples: np.ndarray, rate_from: int, rate_to: int = RATE) -> np.ndarray:
    """Polyphase resampling (scipy.signal.resample_poly) by the exact ratio of the two rates."""
    from scipy.signal import resample_poly

    if rate_from == rate_to:
        return np.asarray(samples, "float32")
    ratio = Fraction(rate_to, rate_from)
    return resample_poly(samples, ratio.numerator, ratio.denominator).astype("float32")


@functools.lru_cache(maxsize=1)
def word_bank() -> dict[str, tuple[np.ndarray, ...]]:
    """Every word in every voice, speed and pitch, at RATE (about 2 s to make, once per process)."""
    words = (TRIGGER, *OTHER_WORDS)
    return {
        word: tuple(
            resample(speech.say(word, voice, speed, pitch), speech.SYNTH_RATE)
            for voice in VOICES
            for speed in WORDS_PER_MINUTE
            for pitch in PITCHES
        )
        for word in words
    }


def background(rng: np.random.Generator, length: int) -> np.ndarray:
    """Brown noise, mains hum (50 or 60 Hz and harmonics) and hiss, each at a random level."""
    brown = np.cumsum(rng.normal(size=length))
    brown = (brown - np.convolve(brown, np.ones(400) / 400, mode="same")) / (np.std(brown) + 1e-9)
    t = np.arange(length) / RATE
    mains = rng.choice((50.0, 60.0))
    hum = sum(np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3))
    noise = (
        rng.uniform(0.02, 0.15) * brown + rng.uniform(0.0, 0.1) * hum + rng.uniform(0.0, 0.03) * rng.normal(size=length)
    )
    return noise.astype("float32")


@dataclass(frozen=True)
class Clip:
    audio: np.ndarray
    words: tuple[tuple[str, float, float], ...]
    """(word, start s, end s), in time order."""

    @property
    def trigger_ends(self) -> list[float]:
        return [end for word, _, end in self.words if word == TRIGGER]


def make_clip(rng: np.random.Generator, bank: Mapping[str, Sequence[np.ndarray]]) -> Clip:
    """CLIP_S of background with 0–2 triggers and 0–3 other words placed where they do not overlap, peak 0.6."""
    length = int(CLIP_S * RATE)
    audio = background(rng, length)
    chosen = [TRIGGER] * int(rng.choice(3, p=(0.25, 0.5, 0.25))) + [
        str(word) for word in rng.choice(OTHER_WORDS, int(rng.integers(0, 4)))
    ]
    placed: list[tuple[str, int, int]] = []
    for word in chosen:
        variants = bank[word]
        sound = variants[int(rng.integers(len(variants)))] * rng.uniform(0.5, 1.2)
        for _ in range(20):
            start = int(rng.integers(0, length - len(sound)))
            end = start + len(sound)
            if all(end + RATE // 20 <= s or start >= e + RATE // 20 for _, s, e in placed):
                audio[start:end] += sound
                placed.append((word, start, end))
                break
    audio *= 0.6 / (np.abs(audio).max() + 1e-9)
    return Clip(audio, tuple((w, s / RATE, e / RATE) for w, s, e in sorted(placed, key=lambda p: p[1])))


def hann(n: int) -> np.ndarray:
    """The periodic Hann window (scipy.signal.get_window('hann', n))."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def spectrogram(audio: np.ndarray) -> np.ndarray:
    """(frames, N_FFT // 2 + 1) power of each Hann-windowed frame, one-sided, 'spectrum' scaled as scipy.signal."""
    audio = np.asarray(audio, "float64")
    frames = 1 + (len(audio) - N_FFT) // HOP
    starts = np.arange(frames)[:, None] * HOP + np.arange(N_FFT)[None, :]
    window = hann(N_FFT)
    power = np.abs(np.fft.rfft(audio[starts] * window, axis=1)) ** 2 / window.sum() ** 2
    power[:, 1:-1] *= 2  # one-sided: the negative frequencies' power folded in (N_FFT is even)
    return power


@functools.lru_cache(maxsize=1)
def mel_bands() -> np.ndarray:
    """(BANDS, N_FFT // 2 + 1) triangular filters evenly spaced in mels from 0 to RATE / 2."""
    mel = lambda hz: 2595 * np.log10(1 + hz / 700)  # noqa: E731
    edges_hz = 700 * (10 ** (np.linspace(0, mel(RATE / 2), BANDS + 2) / 2595) - 1)
    bins = np.fft.rfftfreq(N_FFT, 1 / RATE)
    filters = np.zeros((BANDS, len(bins)))
    for b in range(BANDS):
        low, centre, high = edges_hz[b : b + 3]
        filters[b] = np.clip(np.minimum((bins - low) / (centre - low), (high - bins) / (high - centre)), 0, None)
    return filters


def features(audio: np.ndarray) -> np.ndarray:
    """(frames, BANDS): log mel-band power."""
    return np.log(spectrogram(audio) @ mel_bands().T + 1e-8).astype("float32")


def frame_times(frames: int) -> np.ndarray:
    """The middle of each spectrogram frame, in seconds."""
    return (np.arange(frames) * HOP + N_FFT / 2) / RATE


def label_windows(trigger_ends: Sequence[float], frames: int) -> list[tuple[float, float]]:
    """Where the target is 1, as (from, to) seconds, cut at the clip's last step."""
    last = float(step_times(frames)[-1])
    return [(end, min(end + LABEL_S, last)) for end in trigger_ends if end < last]


def output_steps(frames: int) -> int:
    return (frames - KERNEL) // STRIDE + 1


def step_times(frames: int) -> np.ndarray:
    """When each output step has heard all of its frames: the end of its last frame, in seconds."""
    last_frame = np.arange(output_steps(frames)) * STRIDE + KERNEL - 1
    return (last_frame * HOP + N_FFT) / RATE


def labels(trigger_ends: Sequence[float], frames: int) -> np.ndarray:
    """1 at the steps that end within LABEL_S after a trigger's end, 0 elsewhere."""
    times = step_times(frames)
    target = np.zeros(len(times), "float32")
    for end in trigger_ends:
        target[(times > end) & (times <= end + LABEL_S)] = 1.0
    return target


def detections(probabilities: np.ndarray, frames: int, threshold: float = 0.5) -> list[float]:
    """The times at which runs of steps above `threshold` start; a run starting within LABEL_S of the last
    detection is the same one (the assistant chimes once, then waits, as in the course)."""
    above = np.asarray(probabilities) > threshold
    found: list[float] = []
    for time in step_times(frames)[np.flatnonzero(above & ~np.concatenate([[False], above[:-1]]))]:
        if not found or time - found[-1] > LABEL_S:
            found.append(float(time))
    return found


def f1_score(found: Sequence[Sequence[float]], trigger_ends: Sequence[Sequence[float]]) -> float:
    """Detection F1 over clips: a detection is right if it starts within a trigger's label window (with one
    step's slack), each trigger matched at most once."""
    slack = STRIDE * HOP / RATE
    right = wrong = missed = 0
    for times, ends in zip(found, trigger_ends):
        unmatched = list(ends)
        for time in times:
            match = next((end for end in unmatched if end < time <= end + LABEL_S + slack), None)
            if match is None:
                wrong += 1
            else:
                unmatched.remove(match)
                right += 1
        missed += len(unmatched)
    return 2 * right / (2 * right + wrong + missed) if right else 0.0


@dataclass(frozen=True)
class TriggerData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_clips: tuple[Clip, ...]
    examples: tuple[int, ...]
    """Held-out clips the page shows: two triggers, one among other words, a sound-alike without one, none."""
    mean: np.ndarray
    std: np.ndarray
    """Each band's mean and spread over the training clips: every spectrogram is standardised with them."""

    def standardise(self, spectrum: np.ndarray) -> np.ndarray:
        return ((spectrum - self.mean) / self.std).astype("float32")


@functools.lru_cache(maxsize=2)
def trigger_data(clips: int, seed: int) -> TriggerData:
    bank = word_bank()
    rng = np.random.default_rng(seed)
    made = [make_clip(rng, bank) for _ in range(clips + TEST_CLIPS)]
    spectra = np.stack([features(c.audio) for c in made])
    frames = spectra.shape[1]
    targets = np.stack([labels(c.trigger_ends, frames) for c in made])
    mean, std = spectra[:clips].mean(axis=(0, 1)), spectra[:clips].std(axis=(0, 1)) + 1e-6
    spectra = (spectra - mean) / std
    test = tuple(made[clips:])
    return TriggerData(
        spectra[:clips], targets[:clips], spectra[clips:], targets[clips:], test, example_indices(test), mean, std
    )


def example_indices(clips: Sequence[Clip]) -> tuple[int, ...]:
    """The first held-out clip of each kind the page shows (a kind no clip has is left out)."""
    kinds = (
        lambda c: len(c.trigger_ends) == 2,
        lambda c: len(c.trigger_ends) == 1 and len(c.words) > 1,
        lambda c: not c.trigger_ends and any(w in ("activity", "actor", "vacation") for w, _, _ in c.words),
        lambda c: not c.words,
    )
    return tuple(next(i for i, c in enumerate(clips) if kind(c)) for kind in kinds if any(map(kind, clips)))


def build_model(units: int):
    """Conv1D over the spectrogram's frames (any number of them), a GRU over its steps, a logit per step."""
    from core.engine.backend import load_keras

    keras = load_keras()
    layers = keras.layers
    spectrum = keras.Input((None, BANDS), name="spectrogram")
    steps = layers.Conv1D(64, KERNEL, strides=STRIDE, activation="relu", name="conv")(spectrum)
    read = layers.GRU(units, return_sequences=True, name="gru")(steps)
    logits = layers.Dense(1, name="trigger_just_ended")(read)
    return keras.Model(spectrum, layers.Reshape((-1,))(logits), name="trigger_detector")


def logistic_loss(logits, targets):
    import jax.numpy as jnp

    return jnp.mean(jnp.logaddexp(0.0, logits) - targets * logits)


class DetectorLoop(MiniBatchLoop):
    def __init__(self, data: TriggerData, units: int, seed: int):
        from core.engine.backend import load_keras

        keras = load_keras()
        keras.utils.set_random_seed(int(seed))
        model = build_model(units)
        optimizer = keras.optimizers.Adam(0.005)
        optimizer.build(model.trainable_variables)
        self.x_test, self.y_test = data.x_test, data.y_test
        super().__init__(model, optimizer, data.x_train, data.y_train, 32, seed, 1, (3,))

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        logits, non_trainable = self.model.stateless_call(trainable, non_trainable, x)
        return logistic_loss(logits, y), non_trainable

    def epoch_row(self, trainable, non_trainable, batch_losses):
        import jax.numpy as jnp

        logits, _ = self.model.stateless_call(trainable, non_trainable, jnp.asarray(self.x_test))
        y = jnp.asarray(self.y_test)
        return jnp.stack([jnp.mean(batch_losses), logistic_loss(logits, y), jnp.mean((logits > 0) == (y > 0.5))])

    def weights(self) -> list[np.ndarray]:
        return [np.asarray(v) for v in self.state[0]]


@functools.lru_cache(maxsize=4)
def _detector(units: int):
    """A model per size and its jitted probabilities (a snapshot's weights are passed in)."""
    import jax

    model = build_model(units)
    non_trainable = [v.value for v in model.non_trainable_variables]
    return jax.jit(lambda weights, x: jax.nn.sigmoid(model.stateless_call(weights, non_trainable, x)[0]))


def probabilities(units: int, weights: Sequence[np.ndarray], spectra: np.ndarray) -> np.ndarray:
    """(clips, steps) the chance that the trigger has just ended, for standardised spectrograms."""
    return np.asarray(_detector(int(units))(list(weights), np.asarray(spectra, "float32")), "float64")


@dataclass(frozen=True)
class TriggerSnapshot:
    epoch: int
    units: int
    weights: list[np.ndarray]
    examples: np.ndarray
    """(examples, steps): the detector's output on the data's example clips."""


@task_factory
def task(config: Mapping[str, Any]) -> TrainingTask:
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)

    def train(ctx: TrainingContext):
        data = trigger_data(int(fixed["clips"]), int(fixed["seed"]))
        units = int(fixed["units"])
        loop = DetectorLoop(data, units, int(fixed["seed"]))
        frames = data.x_test.shape[1]
        ends = [clip.trigger_ends for clip in data.test_clips]

        def snapshot(epochs: int) -> TriggerSnapshot:
            weights = loop.weights()
            return TriggerSnapshot(
                epochs, units, weights, probabilities(units, weights, data.x_test[list(data.examples)])
            )

        def detection_f1() -> dict[str, float]:
            chances = probabilities(units, loop.weights(), data.x_test)
            return {"val_f1": f1_score([detections(p, frames) for p in chances], ends)}

        train_live(ctx, loop, METRICS, snapshot, SPEEDS, 1, detection_f1)

    return TrainingTask(run=RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


class BadAudio(ValueError):
    """An upload or recording the detector cannot read; the message says why."""


@dataclass(frozen=True)
class Heard:
    audio: np.ndarray
    """At RATE, peak 0.6."""
    notes: tuple[str, ...]


def read_wav(data: bytes) -> Heard:
    """A WAV file as mono samples at RATE, peak-normalised like the training clips. BadAudio if it is not a WAV
    file, is shorter than MIN_UPLOAD_S or longer than MAX_UPLOAD_S, or silent; another rate is resampled, stereo
    mixed, with a note each."""
    from scipy.io import wavfile

    try:
        rate, samples = wavfile.read(io.BytesIO(data))
    except Exception as error:  # scipy raises ValueError, EOFError or struct.error for what is not a WAV
        raise BadAudio("That file is not WAV audio: record a clip, or upload a .wav file.") from error
    notes = []
    samples = np.asarray(samples)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
        notes.append("Its channels were mixed into one.")
    if samples.dtype.kind in "iu":
        info = np.iinfo(samples.dtype)
        samples = (samples.astype("float64") - (info.max + info.min + 1) / 2) / ((info.max - info.min + 1) / 2)
    samples = np.asarray(samples, "float64")
    if not len(samples) or rate <= 0:
        raise BadAudio("That WAV file holds no sound.")
    seconds = len(samples) / rate
    if seconds > MAX_UPLOAD_S:
        raise BadAudio(f"That clip is {seconds:.0f} s long; the detector listens to at most {MAX_UPLOAD_S:.0f} s.")
    if seconds < MIN_UPLOAD_S:
        raise BadAudio(f"That clip is {seconds:.2f} s long: record at least {MIN_UPLOAD_S} s.")
    if not np.all(np.isfinite(samples)) or np.abs(samples).max() < 1e-3:
        raise BadAudio("That clip is silent (or nearly): record again closer to the microphone.")
    if rate != RATE:
        samples = resample(samples, rate)
        notes.append(f"It was recorded at {rate:,} samples a second and resampled to the detector's {RATE:,}.")
    return Heard((samples * 0.6 / np.abs(samples).max()).astype("float32"), tuple(notes))


def listen(heard: Heard, data: TriggerData, units: int, weights: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A student's clip through the detector: its standardised spectrogram and the chance at each step."""
    spectrum = data.standardise(features(heard.audio))
    return spectrum, probabilities(units, weights, spectrum[None])[0]


def findings(history: Sequence[Mapping[str, float]], data: TriggerData) -> list[str]:
    if not history:
        return []
    last = history[-1]
    never_fires = 1 - float(data.y_test.mean())
    best = max(history, key=lambda row: row["val_f1"])
    return [
        f"After epoch {int(last['epoch'])}: **{last['val_step_accuracy']:.1%}** of the held-out steps right, and a "
        f"detection F1 of **{last['val_f1']:.2f}** on {TEST_CLIPS} held-out clips (best {best['val_f1']:.2f}, at "
        f"epoch {int(best['epoch'])}).",
        f"Step accuracy flatters: a detector that never fires is right at {never_fires:.1%} of the held-out steps, "
        "because most of them are 0. F1 counts only what matters: triggers found, triggers missed, false alarms.",
    ]
