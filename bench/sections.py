"""Every live section of the app as the benchmarks start it: its page, its controls and the task its
Train button submits, at the page's defaults (or with the few values a benchmark overrides)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.engine.jobs import TrainingTask
from core.engine.params import Control, config_from_query
from core.lessons.attention import attention, selfattention
from core.lessons.cnn_filters import cnn
from core.lessons.engine_room import engine_check
from core.lessons.gan import gan2d, imagegan
from core.lessons.initialisation import initialisation
from core.lessons.lstm_gates import lstm
from core.lessons.perceptron import playground
from core.lessons.sequence_models import generation, translation, trigger
from core.lessons.vanishing_gradients import vanishing
from core.lessons.vision_applications import grid_detector, residual, style, transfer, triplet
from core.lessons.word2vec import emojify, sentiment, word2vec
from core.shared import recurrent


def _playground_task(config: Mapping[str, Any]) -> TrainingTask:
    data = playground.make_dataset(config["data"], config["noise"], config["train_share"], config["data_seed"])
    return playground.task(config, data)


@dataclass(frozen=True)
class LiveSection:
    name: str
    page: str
    controls: Sequence[Control]
    make_task: Callable[[Mapping[str, Any]], TrainingTask]
    length_key: str
    """The control that sets how long the run is (epochs, iterations or steps)."""
    seed_key: str

    def task(self, length: int | None = None, seed: int | None = None) -> TrainingTask:
        """The task at the page's defaults; `length` and `seed` (each clamped to its control's range)
        replace the run's length and seed."""
        config, problems = config_from_query(self.controls, {})
        assert not problems, problems
        for key, value in ((self.length_key, length), (self.seed_key, seed)):
            if value is not None:
                control = next(c for c in self.controls if c.key == key)
                config[key] = max(int(control.min or 0), min(int(control.max or value), value))
        return self.make_task(config)


SECTIONS = (
    LiveSection("perceptron: playground", "perceptron", playground.CONTROLS, _playground_task, "epochs", "model_seed"),
    LiveSection(
        "initialisation: course experiment",
        "initialisation",
        initialisation.COURSE_CONTROLS,
        initialisation.course_task,
        "steps",
        "seed",
    ),
    LiveSection(
        "initialisation: deep network",
        "initialisation",
        initialisation.DEEP_CONTROLS,
        initialisation.deep_task,
        "epochs",
        "seed",
    ),
    LiveSection(
        "vanishing gradients: depth",
        "vanishing_gradients",
        vanishing.DEPTH_CONTROLS,
        vanishing.depth_task,
        "epochs",
        "seed",
    ),
    LiveSection(
        "vanishing gradients: through time",
        "vanishing_gradients",
        recurrent.TIME_CONTROLS,
        vanishing.time_task,
        "epochs",
        "seed",
    ),
    LiveSection("cnn filters: training", "cnn_filters", cnn.TRAIN_CONTROLS, cnn.train_task, "epochs", "seed"),
    LiveSection("lstm gates: training", "lstm_gates", lstm.TRAIN_CONTROLS, lstm.train_task, "epochs", "seed"),
    LiveSection(
        "lstm gates: long-range comparison",
        "lstm_gates",
        lstm.COMPARE_CONTROLS,
        lstm.compare_task,
        "epochs",
        "seed",
    ),
    LiveSection(
        "attention: date translator", "attention", attention.DATE_CONTROLS, attention.dates_task, "epochs", "seed"
    ),
    LiveSection(
        "attention: toy transformer",
        "attention",
        selfattention.TRANSFORMER_CONTROLS,
        selfattention.transformer_task,
        "epochs",
        "seed",
    ),
    LiveSection(
        "attention: comparison",
        "attention",
        attention.COMPARE_CONTROLS,
        attention.compare_task,
        "epochs",
        "seed",
    ),
    LiveSection("gan: 2-D duel", "gan", gan2d.CONTROLS, gan2d.train_task, "iterations", "seed"),
    LiveSection("gan: images", "gan", imagegan.CONTROLS, imagegan.train_task, "epochs", "seed"),
    LiveSection("word2vec: training", "word2vec", word2vec.CONTROLS, word2vec.word2vec_task, "epochs", "seed"),
    LiveSection("word2vec: sentiment", "word2vec", sentiment.CONTROLS, sentiment.sentiment_task, "epochs", "seed"),
    LiveSection("word2vec: emojify", "word2vec", emojify.CONTROLS, emojify.emojify_task, "epochs", "seed"),
    LiveSection(
        "sequence models: translation", "sequence_models", translation.CONTROLS, translation.task, "epochs", "seed"
    ),
    LiveSection(
        "sequence models: generation", "sequence_models", generation.CONTROLS, generation.task, "epochs", "seed"
    ),
    LiveSection("sequence models: trigger word", "sequence_models", trigger.CONTROLS, trigger.task, "epochs", "seed"),
    LiveSection(
        "vision applications: residual networks",
        "vision_applications",
        residual.CONTROLS,
        residual.task,
        "epochs",
        "seed",
    ),
    LiveSection(
        "vision applications: transfer learning",
        "vision_applications",
        transfer.CONTROLS,
        transfer.task,
        "epochs",
        "seed",
    ),
    LiveSection(
        "vision applications: grid detector",
        "vision_applications",
        grid_detector.CONTROLS,
        grid_detector.task,
        "epochs",
        "seed",
    ),
    LiveSection(
        "vision applications: triplet loss", "vision_applications", triplet.CONTROLS, triplet.task, "epochs", "seed"
    ),
    LiveSection(
        "vision applications: style transfer", "vision_applications", style.CONTROLS, style.task, "epochs", "seed"
    ),
    LiveSection("engine room", "engine_room", engine_check.CONTROLS, engine_check.task, "epochs", "seed"),
)
