"""The lesson map: every lesson's page, group and one-line promise, in teaching order."""

from __future__ import annotations

from dataclasses import dataclass

GROUPS = ("Foundations", "Vision", "Sequences", "Generative models", "Language", "Reinforcement learning", "Classroom")


@dataclass(frozen=True)
class Lesson:
    slug: str
    title: str
    group: str
    icon: str
    promise: str
    status: str
    """'ready', 'partial' (some sections built, the page says which) or 'soon' (a coming-soon card)."""

    @property
    def page(self) -> str:
        return f"views/{self.slug}.py"


LESSONS = (
    Lesson(
        "from_scratch",
        "A network from scratch",
        "Foundations",
        ":material/construction:",
        "Write a deep-learning framework in one screen, then logistic regression and a bike-rental network in NumPy.",
        "ready",
    ),
    Lesson(
        "perceptron",
        "Perceptron & backprop",
        "Foundations",
        ":material/share:",
        "Watch a neuron draw its line, then open backprop up number by number.",
        "ready",
    ),
    Lesson(
        "initialisation",
        "Weight initialisation",
        "Foundations",
        ":material/casino:",
        "Race zeros, Glorot and He on the same network and see why the scheme matters.",
        "ready",
    ),
    Lesson(
        "vanishing_gradients",
        "Vanishing gradients",
        "Foundations",
        ":material/trending_down:",
        "See the gradient of every layer shrink with depth, and the remedies that stop it.",
        "ready",
    ),
    Lesson(
        "optimisation",
        "Optimisation",
        "Foundations",
        ":material/speed:",
        "Race the optimisers down loss surfaces and on a real network; overfitting and its remedies, batch norm, "
        "hyperparameter search.",
        "ready",
    ),
    Lesson(
        "cnn_filters",
        "CNN filter viewer",
        "Vision",
        ":material/image:",
        "Train a convolutional network live and watch its filters and feature maps form.",
        "ready",
    ),
    Lesson(
        "vision_applications",
        "Vision applications",
        "Vision",
        ":material/view_in_ar:",
        "Residual networks against plain ones, transfer learning, a grid detector and MTCNN's face proposals, "
        "verification by the triplet loss and style transfer, all live.",
        "ready",
    ),
    Lesson(
        "lstm_gates",
        "LSTM gate inspector",
        "Sequences",
        ":material/repeat:",
        "Every gate of an LSTM, for every character of a string you type.",
        "ready",
    ),
    Lesson(
        "attention",
        "Attention heatmaps",
        "Sequences",
        ":material/center_focus_strong:",
        "Watch an attention map sharpen, epoch by epoch, as a model learns to read dates.",
        "ready",
    ),
    Lesson(
        "sequence_models",
        "Sequence models in practice",
        "Sequences",
        ":material/translate:",
        "Train a translator from English to French and decode it by beam search, an LSTM that learns to write, and a "
        "detector that hears a trigger word.",
        "ready",
    ),
    Lesson(
        "gan",
        "GAN training, live",
        "Generative models",
        ":material/theater_comedy:",
        "Two networks in a duel: samples, decision surface and the tricks that keep it fair.",
        "ready",
    ),
    Lesson(
        "word_vectors",
        "Word vectors & debiasing",
        "Language",
        ":material/translate:",
        "Find the gender direction in GloVe, measure the bias, and remove it step by step.",
        "ready",
    ),
    Lesson(
        "word2vec",
        "Training word vectors & sentiment",
        "Language",
        ":material/hub:",
        "Learn word vectors live with word2vec beside gensim's and GloVe's, then read tweets' sentiment three ways and "
        "answer sentences with emoji.",
        "ready",
    ),
    Lesson(
        "reinforcement",
        "Reinforcement learning",
        "Reinforcement learning",
        ":material/sports_esports:",
        "Q-learning and SARSA fill in a table of values on gymnasium's grid worlds; a deep Q-network learns CartPole.",
        "ready",
    ),
    Lesson(
        "engine_room",
        "Engine room",
        "Classroom",
        ":material/build:",
        "Check the machine before class: a live training run, and every run on this server.",
        "ready",
    ),
)


def lesson(slug: str) -> Lesson:
    for entry in LESSONS:
        if entry.slug == slug:
            return entry
    raise KeyError(slug)
