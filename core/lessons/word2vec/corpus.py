"""The text word2vec learns from and the tests its vectors are scored on, all shipped inside gensim's package:
the Lee background corpus (300 news stories from the Australian Broadcasting Corporation, 58,152 words), the
WordSim-353 similarity judgements (Finkelstein et al. 2002) and Google's analogy questions (Mikolov et al. 2013).

The files are read directly (core/shared/gensimdata.py): importing gensim itself is not needed to read them.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from core.shared.gensimdata import data_file, lee_texts

MIN_COUNT = 5
"""A word must occur this often to get a vector (gensim's default): rarer words are dropped before pairing."""
NEGATIVE_POWER = 0.75
"""Negative samples are drawn in proportion to count^0.75 (Mikolov et al. 2013): rare words a little more often."""
TOKEN = re.compile(r"[^\W\d_]+")
"""A run of letters, the way gensim's `simple_preprocess` splits text (digits and punctuation split words)."""


def tokens(text: str) -> list[str]:
    """Lower-case words of 2–15 letters, as `gensim.utils.simple_preprocess` makes them."""
    return [word for word in TOKEN.findall(text.lower()) if 2 <= len(word) <= 15]


@dataclass(frozen=True)
class Corpus:
    """Sentences (here: stories) as word ids, the vocabulary most frequent first, and each word's count."""

    words: tuple[str, ...]
    counts: np.ndarray
    sentences: tuple[np.ndarray, ...]
    raw_words: int
    """Words in the text before rare ones were dropped."""
    index: dict[str, int] = field(repr=False, compare=False, default_factory=dict)

    def __post_init__(self):
        self.index.update({word: row for row, word in enumerate(self.words)})

    def __len__(self) -> int:
        return len(self.words)

    @property
    def kept_words(self) -> int:
        return int(sum(len(sentence) for sentence in self.sentences))


def build_corpus(texts, min_count: int = MIN_COUNT) -> Corpus:
    """The corpus of some texts: words seen fewer than `min_count` times are dropped (ties ordered alphabetically)."""
    tokenised = [tokens(text) for text in texts]
    counts = Counter(word for sentence in tokenised for word in sentence)
    words = tuple(sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w)))
    index = {word: row for row, word in enumerate(words)}
    sentences = tuple(np.array([index[w] for w in s if w in index], dtype="int32") for s in tokenised)
    return Corpus(words, np.array([counts[w] for w in words]), sentences, sum(map(len, tokenised)))


@functools.lru_cache(maxsize=1)
def lee_corpus() -> Corpus:
    return build_corpus(lee_texts())


def negative_distribution(counts: np.ndarray, power: float = NEGATIVE_POWER) -> np.ndarray:
    """The chance of drawing each word as a negative sample: count^power, normalised."""
    weights = np.asarray(counts, dtype="float64") ** power
    return weights / weights.sum()


def _context_positions(length: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """For every position, the positions at most `window` away (itself left out): (centre, context) index pairs
    in reading order, centre by centre."""
    offsets = np.array([o for o in range(-window, window + 1) if o != 0])
    centre = np.repeat(np.arange(length), len(offsets))
    context = centre + np.tile(offsets, length)
    inside = (context >= 0) & (context < length)
    return centre[inside], context[inside]


def window_pairs(ids: np.ndarray, window: int) -> np.ndarray:
    """Skip-gram's training pairs in one sentence: (centre, context) for every context word at most `window`
    places away, in reading order: (n, 2)."""
    centre, context = _context_positions(len(ids), window)
    return np.stack([ids[centre], ids[context]], axis=1).astype("int32").reshape(-1, 2)


def context_rows(ids: np.ndarray, window: int, pad: int) -> np.ndarray:
    """CBOW's training examples in one sentence: the (up to 2·window) context ids padded with `pad`, then the
    centre: (n, 2·window + 1)."""
    centre, context = _context_positions(len(ids), window)
    rows = np.full((len(ids), 2 * window + 1), pad, dtype="int32")
    slot = np.arange(len(centre)) - np.searchsorted(centre, centre)
    rows[centre, slot] = ids[context]
    rows[:, -1] = ids
    return rows


@dataclass(frozen=True)
class WordSim:
    """The WordSim-353 pairs whose two words both have vectors, and the people's mean similarity score (0–10)."""

    first: np.ndarray
    second: np.ndarray
    score: np.ndarray
    total: int
    """Pairs in the whole test."""


@functools.lru_cache(maxsize=1)
def wordsim_rows() -> tuple[tuple[str, str, float], ...]:
    rows = []
    for line in data_file("wordsim353.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            first, second, score = line.split("\t")[:3]
            rows.append((first.lower(), second.lower(), float(score)))
    return tuple(rows)


def wordsim(corpus: Corpus) -> WordSim:
    covered = [
        (corpus.index[a], corpus.index[b], s) for a, b, s in wordsim_rows() if a in corpus.index and b in corpus.index
    ]
    first, second, score = (np.array(column) for column in zip(*covered))
    return WordSim(first.astype("int32"), second.astype("int32"), score.astype("float64"), len(wordsim_rows()))


@dataclass(frozen=True)
class Analogies:
    """Google's analogy questions (a : b :: c : d) whose four words all have vectors, as word ids (n, 4)."""

    questions: np.ndarray
    sections: tuple[str, ...]
    """Each question's section, e.g. 'capital-common-countries' or 'gram3-comparative'."""
    total: int


@functools.lru_cache(maxsize=1)
def analogy_rows() -> tuple[tuple[str, tuple[str, str, str, str]], ...]:
    rows, section = [], ""
    for line in data_file("questions-words.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            section = line[1:].strip()
        elif line.strip():
            rows.append((section, tuple(line.lower().split()[:4])))
    return tuple(rows)


def analogies(corpus: Corpus) -> Analogies:
    covered = [(s, q) for s, q in analogy_rows() if all(word in corpus.index for word in q)]
    questions = np.array([[corpus.index[w] for w in q] for _, q in covered], dtype="int32").reshape(-1, 4)
    return Analogies(questions, tuple(s for s, _ in covered), len(analogy_rows()))
