"""What the page shows of word2vec besides the run: one sentence's training pairs and negative samples, the words a
student types, a map of chosen words, nearest neighbours, and what to notice in a run's numbers."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.lessons.word2vec import corpus as text
from core.lessons.word2vec.word2vec import GENSIM, KERAS, METRICS
from core.shared.copies import row_key

MAX_TEXT = 2000
"""Characters of a typed sentence read; the rest is cut (with a note)."""
MAX_MAPPED = 40
"""Words on the map at most: more labels than that cover each other."""
ALIKE = 0.1
"""Two models whose WordSim ρ differ by at most this much learned alike: ρ on 60 pairs moves about this much from
one seed to the next."""
DEFAULT_MAP_WORDS = (
    "police fire firefighters government minister president afghanistan pakistan india israeli palestinian "
    "australia sydney melbourne monday tuesday friday man woman children"
)


class NoWords(ValueError):
    """Typed text with no word the corpus has a vector for; the message says why."""


def first_sentences(count: int = 8) -> tuple[str, ...]:
    """The opening sentence of the corpus's first stories: examples to pick from."""
    return tuple(re.split(r"(?<=[.!?])\s+", story, maxsplit=1)[0] for story in text.lee_texts()[:count])


@dataclass(frozen=True)
class Sentence:
    """A sentence as word2vec reads it: its words, which of them the corpus keeps (rarer ones are dropped before
    pairing), and a note about anything cut or ignored."""

    words: tuple[str, ...]
    kept: tuple[bool, ...]
    notes: tuple[str, ...]

    @property
    def kept_words(self) -> tuple[str, ...]:
        return tuple(w for w, k in zip(self.words, self.kept) if k)


def read_sentence(typed: str, corpus: text.Corpus) -> Sentence:
    """A typed or chosen sentence; NoWords if none of its words is in the corpus's vocabulary."""
    typed = typed or ""
    notes = []
    if len(typed) > MAX_TEXT:
        notes.append(f"Only the first {MAX_TEXT:,} of its {len(typed):,} characters are read.")
        typed = typed[:MAX_TEXT]
    words = text.tokens(typed)
    if not words:
        raise NoWords(
            "Type a sentence with some words in it: word2vec reads runs of 2–15 letters (digits, punctuation and "
            "emoji split words and are ignored)."
        )
    kept = tuple(w in corpus.index for w in words)
    if not any(kept):
        raise NoWords(
            f"None of its words is among the corpus's {len(corpus):,} (each occurs at least {text.MIN_COUNT} times "
            "in the news stories); try words from the news, e.g. 'police', 'government', 'fire'."
        )
    dropped = sorted({w for w, k in zip(words, kept) if not k})
    if dropped:
        notes.append(
            f"Greyed out, not in the corpus's vocabulary (fewer than {text.MIN_COUNT} times in it): "
            + ", ".join(dropped[:12])
            + (" …" if len(dropped) > 12 else "")
            + ". word2vec drops them before it pairs words, so the window reaches past them."
        )
    return Sentence(tuple(words), kept, tuple(notes))


def centre_pairs(sentence: Sentence, centre: int, window: int) -> list[tuple[str, str]]:
    """Skip-gram's pairs for the `centre`-th kept word: (centre, context) in reading order."""
    kept = sentence.kept_words
    return [
        (kept[centre], kept[j])
        for j in range(max(0, centre - window), min(len(kept), centre + window + 1))
        if j != centre
    ]


def sentence_pair_count(sentence: Sentence, window: int) -> int:
    ids = np.arange(len(sentence.kept_words))
    return len(text.window_pairs(ids, window))


@functools.lru_cache(maxsize=16)
def corpus_pair_count(window: int) -> int:
    """Skip-gram's training pairs in an epoch of the corpus at this window."""
    return sum(len(text.window_pairs(sentence, window)) for sentence in text.lee_corpus().sentences)


def draw_negatives(corpus: text.Corpus, count: int, seed: int) -> list[str]:
    """`count` words drawn by count^0.75, as the training draws them."""
    chance = text.negative_distribution(corpus.counts)
    return [corpus.words[i] for i in np.random.default_rng(seed).choice(len(corpus), size=count, p=chance)]


@dataclass(frozen=True)
class Flattening:
    """How count^0.75 reshapes the chances of drawing words: the most frequent and some rare words, with their
    share of the text and their chance of being drawn."""

    words: tuple[str, ...]
    share: np.ndarray
    chance: np.ndarray


def flattening(corpus: text.Corpus, top: int = 8, rare: int = 4) -> Flattening:
    chosen = list(range(top)) + list(range(len(corpus) - rare, len(corpus)))
    share = corpus.counts / corpus.counts.sum()
    chance = text.negative_distribution(corpus.counts)
    return Flattening(tuple(corpus.words[i] for i in chosen), share[chosen], chance[chosen])


@dataclass(frozen=True)
class WordList:
    words: tuple[str, ...]
    ids: tuple[int, ...]
    notes: tuple[str, ...]


def read_words(typed: str, corpus: text.Corpus, limit: int = MAX_MAPPED) -> WordList:
    """Words typed for the map, each once, in order; a note for each one the corpus lacks."""
    found = list(dict.fromkeys(text.tokens((typed or "")[:MAX_TEXT])))
    known = [w for w in found if w in corpus.index]
    unknown = [w for w in found if w not in corpus.index]
    notes = []
    if unknown:
        notes.append(
            f"Not among the corpus's {len(corpus):,} words: "
            + ", ".join(unknown[:10])
            + (" …" if len(unknown) > 10 else "")
        )
    if len(known) > limit:
        notes.append(f"Showing the first {limit} of {len(known)} words.")
    known = known[:limit]
    return WordList(tuple(known), tuple(corpus.index[w] for w in known), tuple(notes))


def word_map(vectors: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """The chosen words' vectors projected on their own two principal components (n, 2); each axis's sign set so
    that the word farthest along it lies on the positive side, so the map does not flip from one epoch to the next
    when nothing else moved."""
    chosen = np.asarray(vectors, dtype="float64")[list(ids)]
    centred = chosen - chosen.mean(axis=0)
    if len(ids) < 3 or not np.any(centred):
        return np.zeros((len(ids), 2))
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    points = centred @ axes[:2].T
    far = np.argmax(np.abs(points), axis=0)
    return points * np.sign(points[far, [0, 1]])


def neighbours(vectors: np.ndarray, word: int, words: Sequence[str], k: int = 8) -> list[tuple[str, float]]:
    """The k words nearest by cosine, the word itself left out."""
    vectors = np.asarray(vectors, dtype="float64")
    norms = np.linalg.norm(vectors, axis=1) + 1e-12
    cosines = vectors @ vectors[word] / (norms * norms[word])
    cosines[word] = -np.inf
    best = np.argsort(-cosines)[:k]
    return [(words[i], float(cosines[i])) for i in best]


def shared_neighbours(first: Sequence[tuple[str, float]], second: Sequence[tuple[str, float]]) -> int:
    return len({w for w, _ in first} & {w for w, _ in second})


@dataclass(frozen=True)
class Word2VecNotice:
    epoch: int
    latest: Mapping[str, Mapping[str, float]]
    """Each trained model's latest scores, by metric."""
    best_wordsim: Mapping[str, tuple[float, int]]
    """Each model's best WordSim ρ so far and the epoch it came."""
    glove: Mapping[str, float]


def word2vec_notice(history: Sequence[Mapping[str, float]], glove_scores: Sequence[float]) -> Word2VecNotice | None:
    if not history:
        return None
    latest, best = {}, {}
    for name in (KERAS, GENSIM):
        rows = [row for row in history if row_key("wordsim", name) in row]
        if not rows:
            continue
        last = rows[-1]
        latest[name] = {m: last[row_key(m, name)] for m in METRICS if row_key(m, name) in last}
        top = max(rows, key=lambda row: row[row_key("wordsim", name)])
        best[name] = (top[row_key("wordsim", name)], int(top["epoch"]))
    glove = dict(zip(("wordsim", "analogy", "analogy top 10"), map(float, glove_scores)))
    return Word2VecNotice(int(history[-1]["epoch"]), latest, best, glove)


def highlighted(sentence: Sentence, centre: int, window: int) -> str:
    """The sentence in Streamlit Markdown: the centre word on orange, its context words on blue, dropped words
    grey and struck through. Words are runs of letters only, so nothing in them is Markdown."""
    marked, position = [], 0
    for word, kept in zip(sentence.words, sentence.kept):
        if not kept:
            marked.append(f":gray[~~{word}~~]")
            continue
        if position == centre:
            marked.append(f":orange-background[**{word}**]")
        elif abs(position - centre) <= window:
            marked.append(f":blue-background[{word}]")
        else:
            marked.append(word)
        position += 1
    return " ".join(marked)
