"""A parallel corpus, English to French, generated in the app: numbers from 0 to 999 written out by `num2words`
(LGPL-2.1), alone and in short sentences written here, with the agreements French asks for.

- A noun after 'one' is singular in both languages; after 'zero' it is plural in English but singular in French
  ('zero cats', 'zéro chat').
- Before a feminine noun, French's 'un' becomes 'une', also at the end of a longer number ('vingt et une pommes',
  'quatre-vingt-une pommes').
- 'the' is 'le' or 'la' by the place's gender.

Words are the units: English is split at spaces and hyphens ('twenty-one' is 'twenty one'), French at spaces, with
each hyphen a word of its own and an elided 'j'' apart from 'ai', so that the French written out again is exactly
num2words' spelling ('quatre-vingt-dix-sept', 'j'ai').

The held-out sentences are those whose number is one of the held-out numbers: a number the model never saw in
training, in any sentence, so that its translation must be composed from the parts it learned.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LARGEST = 999
HELD_OUT_NUMBERS = 100
PAD, START, END = "<pad>", "<start>", "<end>"
NOUNS = (
    # English singular, plural; French singular, plural; feminine
    ("cat", "cats", "chat", "chats", False),
    ("dog", "dogs", "chien", "chiens", False),
    ("book", "books", "livre", "livres", False),
    ("bird", "birds", "oiseau", "oiseaux", False),
    ("tree", "trees", "arbre", "arbres", False),
    ("apple", "apples", "pomme", "pommes", True),
    ("house", "houses", "maison", "maisons", True),
    ("car", "cars", "voiture", "voitures", True),
    ("chair", "chairs", "chaise", "chaises", True),
    ("star", "stars", "étoile", "étoiles", True),
)
PLACES = (
    ("garden", "jardin", False),
    ("park", "parc", False),
    ("forest", "forêt", True),
    ("street", "rue", True),
    ("kitchen", "cuisine", True),
)
TEMPLATES = (
    ("{n}", "{n}"),
    ("{n} {noun}", "{n} {noun}"),
    ("i have {n} {noun}", "j' ai {n} {noun}"),
    ("she sees {n} {noun}", "elle voit {n} {noun}"),
    ("we want {n} {noun}", "nous voulons {n} {noun}"),
    ("there are {n} {noun} in the {place}", "il y a {n} {noun} dans {the} {place}"),
)
"""English and French sentences with a number, a noun and a place to fill in (French words apart as tokenised)."""
SHOWCASE = ((0, 808, 0, 0), (0, 97, 0, 0), (1, 21, 5, 0), (2, 1, 6, 0), (3, 0, 0, 0), (4, 81, 9, 0), (5, 200, 3, 4))
"""(template, number, noun, place) of the pairs the page shows: the agreements at work."""


def english_number(n: int) -> str:
    from num2words import num2words

    return num2words(n, lang="en").replace("-", " ")


def french_number(n: int, feminine: bool = False) -> str:
    """num2words' French, as words: hyphens apart ('quatre - vingt - dix'); a final 'un' made 'une' for a
    feminine noun."""
    from num2words import num2words

    words = re.sub(r"-", " - ", num2words(n, lang="fr")).split()
    if feminine and words[-1] == "un":
        words[-1] = "une"
    return " ".join(words)


def french_text(tokens: Sequence[str]) -> str:
    """French words written out: no space around a hyphen, none after an elided 'j''."""
    return re.sub(r" ?- ?", "-", " ".join(tokens)).replace("' ", "'")


def english_words(text: str) -> list[str]:
    """What a student typed, as the model's English words: lower case, hyphens as spaces, punctuation ignored."""
    return re.findall(r"[a-z]+", text.lower().replace("-", " "))


@dataclass(frozen=True)
class Pair:
    english: str
    french: str
    number: int
    template: int


def sentence_pair(template: int, n: int, noun: int = 0, place: int = 0) -> Pair:
    """One English sentence and its French, with number `n`, noun and place chosen by index."""
    english_template, french_template = TEMPLATES[template]
    singular, plural, singulier, pluriel, feminine = NOUNS[noun]
    place_en, place_fr, place_feminine = PLACES[place]
    english = english_template.format(n=english_number(n), noun=singular if n == 1 else plural, place=place_en)
    french = french_template.format(
        n=french_number(n, feminine and "{noun}" in french_template),
        noun=singulier if n <= 1 else pluriel,
        the="la" if place_feminine else "le",
        place=place_fr,
    )
    return Pair(english, french, n, template)


@functools.lru_cache(maxsize=4)
def sentence_pairs(count: int, seed: int) -> tuple[Pair, ...]:
    """`count` pairs: every number alone once, then sentences drawn at random (template, number, noun and place)."""
    rng = np.random.default_rng(seed)
    pairs = [sentence_pair(0, n) for n in range(LARGEST + 1)]
    while len(pairs) < count:
        template = int(rng.integers(1, len(TEMPLATES)))
        pairs.append(
            sentence_pair(
                template, int(rng.integers(LARGEST + 1)), int(rng.integers(len(NOUNS))), int(rng.integers(len(PLACES)))
            )
        )
    return tuple(pairs[:count])


def held_out_numbers(seed: int) -> frozenset[int]:
    """HELD_OUT_NUMBERS numbers the training never shows (0 and 1 always trained: their agreements are rules)."""
    rng = np.random.default_rng(10_000 + seed)
    return frozenset(int(n) for n in rng.choice(np.arange(2, LARGEST + 1), HELD_OUT_NUMBERS, replace=False))


@dataclass(frozen=True)
class Vocabulary:
    words: tuple[str, ...]
    """PAD first (id 0), then START and END, then the words in order of first appearance."""

    @functools.cached_property
    def index(self) -> dict[str, int]:
        return {word: i for i, word in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def of(cls, sentences: Sequence[str]) -> Vocabulary:
        return cls(tuple(dict.fromkeys([PAD, START, END, *(w for s in sentences for w in s.split())])))


@dataclass(frozen=True)
class ParallelCorpus:
    """The pairs as word ids, split by number: training sentences, and held-out ones whose number training never
    shows. English rows are padded words; French rows are [START] + words + [END], padded, so that the decoder
    reads row[:-1] (teacher forcing) and is asked for row[1:]."""

    pairs: tuple[Pair, ...]
    english: Vocabulary
    french: Vocabulary
    source: np.ndarray
    target: np.ndarray
    train: np.ndarray
    """Indices of the training pairs."""
    held_out: np.ndarray

    @property
    def source_length(self) -> int:
        return self.source.shape[1]

    @property
    def target_length(self) -> int:
        return self.target.shape[1]


def encode_rows(sentences: Sequence[Sequence[str]], vocabulary: Vocabulary, length: int) -> np.ndarray:
    rows = np.zeros((len(sentences), length), dtype="int32")
    for i, words in enumerate(sentences):
        rows[i, : len(words)] = [vocabulary.index[w] for w in words]
    return rows


@functools.lru_cache(maxsize=4)
def parallel_corpus(count: int, seed: int) -> ParallelCorpus:
    pairs = sentence_pairs(count, seed)
    english = Vocabulary.of([p.english for p in pairs])
    french = Vocabulary.of([p.french for p in pairs])
    source_words = [p.english.split() for p in pairs]
    target_words = [[START, *p.french.split(), END] for p in pairs]
    source = encode_rows(source_words, english, max(map(len, source_words)))
    target = encode_rows(target_words, french, max(map(len, target_words)))
    unseen = held_out_numbers(seed)
    held = np.array([p.number in unseen for p in pairs])
    return ParallelCorpus(pairs, english, french, source, target, np.flatnonzero(~held), np.flatnonzero(held))


class UnknownWords(ValueError):
    """A typed phrase the translator cannot read; the message names what is wrong."""


def encode_phrase(text: str, corpus: ParallelCorpus) -> tuple[list[str], np.ndarray]:
    """A typed English phrase as the model's words and one padded row of ids; UnknownWords names the words the
    corpus never uses, or says that the phrase is empty or too long."""
    words = english_words(text or "")
    if not words:
        raise UnknownWords("Type an English phrase with a number, e.g. 'i have twenty one apples'.")
    unknown = sorted(set(w for w in words if w not in corpus.english.index))
    if unknown:
        raise UnknownWords(
            f"The translator never saw {', '.join(repr(w) for w in unknown[:8])}"
            f"{' and more' if len(unknown) > 8 else ''}: it knows numbers up to {english_number(LARGEST)} and the "
            "words of its sentences (see the examples)."
        )
    if len(words) > corpus.source_length:
        raise UnknownWords(f"That is {len(words)} words; the translator reads at most {corpus.source_length}.")
    return words, encode_rows([words], corpus.english, corpus.source_length)[0]
