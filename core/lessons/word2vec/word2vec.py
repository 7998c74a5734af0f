"""word2vec trained live (Mikolov et al. 2013): skip-gram or CBOW with negative sampling, written in Keras and
trained on the shared jitted loop, beside gensim's Word2Vec trained on the same text with the same settings,
epoch for epoch, and against the GloVe vectors the app ships.

The network is two tables of vectors (Keras `Embedding` layers): a word's own vector (the one kept) and its
vector as a context. Skip-gram scores a (centre, context) pair by the dot product of the centre's own vector and
the context's context vector; CBOW scores the centre against the mean of its context words' own vectors. Each
true pair is pushed towards 1 through the sigmoid, and `negatives` words drawn at random (count^0.75) towards 0:
loss = −log σ(v·u₊) − Σₖ log σ(−v·uₖ).

After each epoch the vectors are scored on the two tests gensim ships: WordSim-353 (Spearman's ρ between their
cosines and people's judgements) and Google's analogies (a : b :: c : ?, answered by the word nearest
b − a + c among the corpus's words).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.loop import MiniBatchLoop
from core.engine.pacing import speed_control, train_in_chunks
from core.engine.params import Control, ControlBox, fixed_values, live_values
from core.lessons.word2vec import corpus as text
from core.shared.copies import row_key

RUN = "word2vec"
SKIP_GRAM, CBOW = "skip-gram", "CBOW"
KERAS, GENSIM, GLOVE = "Keras (this page)", "gensim", "GloVe"
METRICS = ("loss", "wordsim", "analogy", "analogy top 10")
"""A model's row after each epoch: its mean training loss, WordSim-353 ρ, analogy accuracy and top-10 accuracy."""
METRIC_LABELS = {
    "loss": "training loss",
    "wordsim": "WordSim-353 Spearman ρ",
    "analogy": "analogies answered (top 1)",
    "analogy top 10": "analogies answered (top 10)",
}
SPEEDS = {"slow motion": 0.5, "steady": 2.0, "full speed": None}
MAX_CHUNK = 10
GENSIM_START_RATE, GENSIM_END_RATE = 0.025, 0.0001
"""gensim's own learning rate, falling linearly over the run (its defaults)."""

CONTROLS = (
    Control(
        "model",
        "Model",
        "select",
        SKIP_GRAM,
        options=(SKIP_GRAM, CBOW),
        help="Skip-gram predicts each context word from the centre word; CBOW predicts the centre word from the "
        "mean of its context words.",
    ),
    Control("window", "Window (words each side)", "int", 5, min=1, max=10),
    Control(
        "negatives",
        "Negative samples per pair",
        "select",
        5,
        options=(1, 2, 5, 10, 20),
        help="Random words the model must score low for each true pair: 5–20 for small corpora (Mikolov et al.).",
    ),
    Control("dimensions", "Dimensions", "select", 50, options=(10, 25, 50, 100)),
    Control(
        "learning_rate",
        "Learning rate (Adam)",
        "select",
        0.003,
        options=(0.0003, 0.001, 0.003, 0.01, 0.03),
        live=True,
        help="Change it while the run trains: the next batch uses it. gensim keeps its own (0.025 falling to "
        "0.0001, plain SGD one pair at a time).",
    ),
    Control("batch_size", "Batch size (pairs)", "select", 1024, options=(256, 1024, 4096)),
    Control("epochs", "Epochs", "int", 20, min=1, max=100),
    Control(
        "gensim",
        "Train gensim's Word2Vec alongside",
        "toggle",
        True,
        help="The reference implementation, on the same text with the same model, window, negatives, "
        "dimensions and epochs.",
    ),
    Control("seed", "Random seed", "int", 0, min=0, max=9999),
    speed_control(SPEEDS),
)
BOX = ControlBox("word2vec", "Model and training", CONTROLS, flat=False)


def training_examples(corpus: text.Corpus, model: str, window: int) -> np.ndarray:
    """Every example of an epoch: skip-gram's (centre, context) pairs, or CBOW's padded contexts then the centre
    (the pad is the vocabulary's size, a row of the word table no word uses)."""
    if model == SKIP_GRAM:
        parts = [text.window_pairs(sentence, window) for sentence in corpus.sentences]
    else:
        parts = [text.context_rows(sentence, window, len(corpus)) for sentence in corpus.sentences if len(sentence)]
    return np.concatenate(parts).astype("int32")


def build_model(vocabulary: int, dimensions: int, context_columns: int, negatives: int, seed: int):
    """The word2vec network in Keras: input ids (context columns, then the word to predict, then the negatives)
    → one score per predicted word. Word vectors start small and random, context vectors at zero (as in word2vec's
    C code and gensim)."""
    from core.engine.backend import load_keras

    keras = load_keras()
    ops = keras.ops
    ids = keras.Input((context_columns + 1 + negatives,), dtype="int32", name="ids")
    word_vectors = keras.layers.Embedding(
        vocabulary + 1,
        dimensions,
        embeddings_initializer=keras.initializers.RandomUniform(-0.5 / dimensions, 0.5 / dimensions, seed=seed),
        name="word_vectors",
    )
    context_vectors = keras.layers.Embedding(
        vocabulary, dimensions, embeddings_initializer="zeros", name="context_vectors"
    )
    inputs, predicted = ids[:, :context_columns], ids[:, context_columns:]
    used = ops.expand_dims(ops.cast(inputs < vocabulary, "float32"), -1)
    hidden = ops.sum(word_vectors(inputs) * used, axis=1) / ops.maximum(ops.sum(used, axis=1), 1.0)
    scores = ops.einsum("bd,bkd->bk", hidden, context_vectors(predicted))
    return keras.Model(ids, scores, name="word2vec")


def negative_sampling_loss(scores):
    """−log σ(score of the true word) − Σ log σ(−score of each negative), averaged over the batch (traced or NumPy
    through jax.numpy)."""
    import jax.numpy as jnp
    from jax.nn import log_sigmoid

    return -jnp.mean(log_sigmoid(scores[:, 0]) + jnp.sum(log_sigmoid(-scores[:, 1:]), axis=1))


def ranks(values, xp):
    """0-based ranks, tied values sharing the mean of their places (as scipy's `rankdata` does): a pair listed twice
    in WordSim-353 has the same cosine twice."""
    below = xp.sum(values[None, :] < values[:, None], axis=1)
    not_above = xp.sum(values[None, :] <= values[:, None], axis=1)
    return (below + not_above - 1) / 2


def test_scores(vectors, wordsim: text.WordSim, analogies: text.Analogies, xp=np):
    """(WordSim-353 ρ, analogy accuracy, analogy top-10 accuracy) of word vectors (a row per corpus word), in
    NumPy or traced in jax.numpy. ρ: Spearman's correlation between the pairs' cosines and the people's scores
    (ranks averaged over ties, as scipy does). Analogies: 3CosAdd over unit vectors, the question's own three
    words left out, among every word of the corpus."""
    unit = vectors / (xp.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)
    cosines = xp.sum(unit[wordsim.first] * unit[wordsim.second], axis=1)
    people = ranks(wordsim.score, np).astype("float32")
    model = ranks(cosines, xp)
    people, model = people - people.mean(), model - xp.mean(model)
    rho = xp.sum(people * model) / xp.sqrt(xp.sum(people**2) * xp.sum(model**2))
    a, b, c, d = (analogies.questions[:, column] for column in range(4))
    scores = (unit[b] - unit[a] + unit[c]) @ unit.T
    vocabulary = xp.arange(unit.shape[0])[None, :]
    asked = (vocabulary == a[:, None]) | (vocabulary == b[:, None]) | (vocabulary == c[:, None])
    scores = xp.where(asked, -xp.inf, scores)
    answer = xp.take_along_axis(scores, d[:, None], axis=1)
    place = xp.sum(scores > answer, axis=1)
    return xp.stack([rho, xp.mean(place == 0), xp.mean(place < 10)])


class Word2VecLoop(MiniBatchLoop):
    """The Keras word2vec network on the shared loop. An iteration is an epoch over every example, shuffled,
    each batch with fresh negatives drawn by count^0.75; its row: the epoch's mean loss and the test scores."""

    def __init__(
        self, corpus: text.Corpus, model: str, window: int, negatives: int, dimensions: int, batch: int, seed: int
    ):
        from core.engine.backend import load_keras

        keras = load_keras()
        keras.utils.set_random_seed(seed)
        examples = training_examples(corpus, model, window)
        self.context_columns = examples.shape[1] - 1
        self.negatives, self.vocabulary = negatives, len(corpus)
        network = build_model(len(corpus), dimensions, self.context_columns, negatives, seed)
        optimizer = keras.optimizers.Adam(0.003)
        optimizer.build(network.trainable_variables)
        super().__init__(
            network, optimizer, examples, np.zeros(len(examples), "float32"), batch, seed, MAX_CHUNK, (len(METRICS),)
        )
        self.word_slot = next(i for i, v in enumerate(network.trainable_variables) if "word_vectors" in v.path)
        self.cumulative = np.cumsum(text.negative_distribution(corpus.counts)).astype("float32")
        self.wordsim, self.analogies = text.wordsim(corpus), text.analogies(corpus)

    def word_vectors(self, trainable) -> Any:
        return trainable[self.word_slot][: self.vocabulary]

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        scores, non_trainable = self.model.stateless_call(trainable, non_trainable, x)
        return negative_sampling_loss(scores), non_trainable

    def draw_negatives(self, key, shape):
        """Word ids drawn by count^0.75 (inverse of the cumulative distribution)."""
        import jax
        import jax.numpy as jnp

        drawn = jnp.searchsorted(jnp.asarray(self.cumulative), jax.random.uniform(key, shape), side="right")
        return jnp.minimum(drawn, self.vocabulary - 1).astype("int32")

    def iterate(self, state, hyper, variant):
        import jax
        import jax.numpy as jnp
        from jax import lax

        *variables, key = state
        key, shuffle_key, negative_key = jax.random.split(key, 3)
        order = jax.random.permutation(shuffle_key, len(self.x))[: self.n_batches * self.batch]
        batch_keys = jax.random.split(negative_key, self.n_batches)

        def one_batch(variables, batch):
            indices, batch_key = batch  # negatives drawn batch by batch: an epoch's at once would take ~100 MB
            drawn = self.draw_negatives(batch_key, (self.batch, self.negatives))
            return self.train_step(variables, jnp.concatenate([self.x[indices], drawn], axis=1), None, hyper)

        variables, batch_losses = lax.scan(
            one_batch, tuple(variables), (order.reshape(self.n_batches, self.batch), batch_keys)
        )
        return (*variables, key), self.epoch_row(variables[0], variables[1], batch_losses)

    def epoch_row(self, trainable, non_trainable, batch_losses):
        import jax.numpy as jnp

        scores = test_scores(self.word_vectors(trainable), self.wordsim, self.analogies, jnp)
        return jnp.concatenate([jnp.mean(batch_losses)[None], scores])

    def vectors(self) -> np.ndarray:
        return np.asarray(self.word_vectors(self.state[0]), dtype="float32")


def stable_hash(word: str) -> int:
    """gensim seeds each word's first vector from a hash of the word and the seed; Python's own string hash
    changes from process to process, so the same settings would not give the same run."""
    return zlib.crc32(word.encode())


class GensimWord2Vec:
    """gensim's Word2Vec on the same sentences, trained an epoch at a time with its learning rate falling linearly
    over the whole run (as one call to `train` would), one worker so it is reproducible."""

    def __init__(
        self, corpus: text.Corpus, model: str, window: int, negatives: int, dimensions: int, epochs: int, seed: int
    ):
        from gensim.models import Word2Vec

        self.corpus, self.epochs, self.done = corpus, epochs, 0
        self.sentences = [[corpus.words[i] for i in sentence] for sentence in corpus.sentences]
        self.model = Word2Vec(
            vector_size=dimensions,
            window=window,
            min_count=1,
            sg=int(model == SKIP_GRAM),
            negative=negatives,
            hs=0,
            sample=0,
            shrink_windows=False,
            workers=1,
            seed=seed,
            hashfxn=stable_hash,
        )
        self.model.build_vocab(self.sentences)
        self.wordsim, self.analogies = text.wordsim(corpus), text.analogies(corpus)

    def rate(self, done: int) -> float:
        return GENSIM_START_RATE - (GENSIM_START_RATE - GENSIM_END_RATE) * done / self.epochs

    def advance(self, n: int) -> np.ndarray:
        """n more epochs; each one's row (its loss is not kept: NaN)."""
        rows = []
        for _ in range(n):
            start, end = self.rate(self.done), self.rate(self.done + 1)
            self.model.train(
                self.sentences, total_examples=len(self.sentences), epochs=1, start_alpha=start, end_alpha=end
            )
            self.done += 1
            rows.append([np.nan, *test_scores(self.vectors(), self.wordsim, self.analogies)])
        return np.array(rows)

    def vectors(self) -> np.ndarray:
        return np.asarray(self.model.wv[list(self.corpus.words)], dtype="float32")


@lru_cache(maxsize=1)
def glove_vectors() -> tuple[np.ndarray, tuple[str, ...]]:
    """The shipped GloVe vector of each corpus word (zeros where GloVe lacks one), and the words it lacks."""
    from core.shared import glove

    vocabulary = glove.load(glove.DEFAULT_VOCABULARY)
    corpus = text.lee_corpus()
    missing = tuple(word for word in corpus.words if word not in vocabulary)
    rows = [
        vocabulary.vectors[vocabulary.index[word]] if word in vocabulary else np.zeros(vocabulary.vectors.shape[1])
        for word in corpus.words
    ]
    return np.array(rows, dtype="float32"), missing


@lru_cache(maxsize=1)
def glove_scores() -> np.ndarray:
    """GloVe's (ρ, analogy, top-10) on the same pairs and questions, among the same candidate words."""
    corpus = text.lee_corpus()
    return test_scores(glove_vectors()[0], text.wordsim(corpus), text.analogies(corpus))


@dataclass(frozen=True)
class Word2VecSnapshot:
    epoch: int
    model: str
    vectors: Mapping[str, np.ndarray]
    """Each model's word vectors now (a row per corpus word, most frequent first)."""
    examples: int
    """Training examples in an epoch."""


@task_factory
def word2vec_task(config: Mapping[str, Any]) -> TrainingTask:
    """The live run: the Keras word2vec, and gensim's beside it if chosen, an epoch each in turn."""
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)
    settings = (fixed["model"], int(fixed["window"]), int(fixed["negatives"]), int(fixed["dimensions"]))

    def train(ctx: TrainingContext):
        corpus = text.lee_corpus()
        seed = int(fixed["seed"])
        ours = Word2VecLoop(corpus, *settings, int(fixed["batch_size"]), seed)
        theirs = GensimWord2Vec(corpus, *settings, ctx.epochs, seed) if fixed["gensim"] else None
        done = {"epochs": 0}

        def snapshot() -> Word2VecSnapshot:
            vectors = {KERAS: ours.vectors()}
            if theirs is not None:
                vectors[GENSIM] = theirs.vectors()
            return Word2VecSnapshot(done["epochs"], fixed["model"], vectors, len(ours.x))

        ctx.replace_snapshot(snapshot())

        def step(n: int, values) -> list[dict[str, float]]:
            import jax.numpy as jnp

            results = {KERAS: ours.advance(n, jnp.float32(values["learning_rate"]))}
            if theirs is not None:
                results[GENSIM] = theirs.advance(n)
            done["epochs"] += n
            rows = []
            for epoch in range(n):
                row = {}
                for name, result in results.items():
                    row.update({row_key(m, name): float(v) for m, v in zip(METRICS, result[epoch]) if np.isfinite(v)})
                rows.append(row)
            return rows

        train_in_chunks(ctx, step, snapshot, lambda values: SPEEDS[values["speed"]], MAX_CHUNK)

    return TrainingTask(run=RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)
