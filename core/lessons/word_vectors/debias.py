"""Gender bias in word vectors: finding its direction, measuring it and removing it.

Two versions side by side, as the lesson teaches them:
- the course exercise: g = woman − man on the raw vectors, `neutralise` and `equalise` one word or
  pair at a time with the course's formulas;
- Bolukbasi et al. (2016), "Man is to computer programmer as woman is to homemaker?": unit-length
  vectors, the first principal component of ten definitional pairs, direct and indirect bias,
  generated she–he analogies and hard debiasing of a whole vocabulary.
The Word Embedding Association Test (Caliskan et al. 2017) measures bias without any direction.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.engine.params import Control, ControlBox
from core.lessons.word_vectors.wordlists import (
    ANALOGIES_TO_KEEP,
    DEFINITIONAL_PAIRS,
    EQUALISE_PAIRS,
    GENDER_SPECIFIC,
    PROFESSIONS,
    STEREOTYPE_ANALOGIES,
    WEAT_TESTS,
)
from core.shared.glove import DEFAULT_VOCABULARY, VOCABULARY_SIZES, WordVectors, cosine

COURSE_DIRECTION = "woman − man (course)"
PAPER_DIRECTION = "first principal component of 10 pairs (paper)"
DIRECTIONS = (COURSE_DIRECTION, PAPER_DIRECTION)
ANALOGY_CANDIDATES = 5_000
"""Generated analogies may pair up the most frequent words: 5,000 of them make 25 million pairs."""


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


@dataclass(frozen=True)
class PrincipalComponents:
    direction: np.ndarray
    """The first component, unit length, oriented so that she − he has a positive projection."""
    explained: np.ndarray
    """Share of the variance each component explains, largest first."""
    pairs: tuple[tuple[str, str], ...]
    """The pairs used: those with both words in the vocabulary."""


def principal_components(
    vocabulary: WordVectors, pairs: Sequence[tuple[str, str]] = DEFINITIONAL_PAIRS
) -> PrincipalComponents:
    """PCA of the pairs' unit vectors, each pair centred on its own mean (the paper's doPCA). Pairs
    with a word outside the vocabulary are left out."""
    pairs = tuple((f, m) for f, m in pairs if f in vocabulary and m in vocabulary)
    rows = []
    for female, male in pairs:
        a, b = vocabulary.unit(female), vocabulary.unit(male)
        centre = (a + b) / 2
        rows += [a - centre, b - centre]
    matrix = np.array(rows)
    _, singular, components = np.linalg.svd(matrix - matrix.mean(axis=0), full_matrices=False)
    variance = singular**2
    direction = components[0]
    if np.dot(direction, vocabulary.vector("she") - vocabulary.vector("he")) < 0:
        direction = -direction
    return PrincipalComponents(direction, variance[: len(pairs)] / variance.sum(), pairs)


def random_pairs(vocabulary: WordVectors, count: int, seed: int = 0, among: int = 5_000) -> list[tuple[str, str]]:
    """Pairs of frequent words drawn at random: what PCA finds when pairs share no meaning."""
    rng = np.random.default_rng(seed)
    pool = [w for w in vocabulary.words[:among] if w.isalpha()]
    chosen = rng.choice(len(pool), size=2 * count, replace=False)
    return [(pool[chosen[2 * i]], pool[chosen[2 * i + 1]]) for i in range(count)]


def gender_direction(vocabulary: WordVectors, kind: str) -> np.ndarray:
    """The bias direction, unit length, pointing to the female side."""
    if kind == COURSE_DIRECTION:
        return unit(vocabulary.vector("woman") - vocabulary.vector("man"))
    if kind == PAPER_DIRECTION:
        return principal_components(vocabulary).direction
    raise ValueError(f"unknown direction {kind!r}")


def projections(vocabulary: WordVectors, words: Sequence[str], direction: np.ndarray) -> dict[str, float]:
    """Each word's cosine with the direction: positive leans female, negative male."""
    return {word: cosine(vocabulary.vector(word), direction) for word in words}


def known_professions(vocabulary: WordVectors) -> list[str]:
    return [word for word in PROFESSIONS if word in vocabulary]


def professions_by_lean(vocabulary: WordVectors, direction: np.ndarray) -> dict[str, float]:
    """The known professions' cosines with g, from the most male-leaning to the most female-leaning."""
    values = projections(vocabulary, known_professions(vocabulary), direction)
    return dict(sorted(values.items(), key=lambda item: item[1]))


def direct_bias(vocabulary: WordVectors, words: Sequence[str], direction: np.ndarray, strictness: float = 1.0) -> float:
    """The paper's DirectBias_c: the mean of |cos(w, g)|^c over gender-neutral words."""
    values = np.abs(list(projections(vocabulary, words, direction).values()))
    return float(np.mean(values**strictness))


def indirect_bias(vocabulary: WordVectors, first: str, second: str, direction: np.ndarray) -> float:
    """The paper's β(w, v): the share of the similarity of two words that is due to gender, from
    their unit vectors with and without their component along g."""
    w, v, g = vocabulary.unit(first), vocabulary.unit(second), unit(direction)
    w_perp, v_perp = w - np.dot(w, g) * g, v - np.dot(v, g) * g
    similarity = np.dot(w, v)
    return float((similarity - np.dot(w_perp, v_perp) / (np.linalg.norm(w_perp) * np.linalg.norm(v_perp))) / similarity)


@dataclass(frozen=True)
class IndirectRow:
    profession: str
    similarity: float
    due_to_gender: float
    lean: float
    """The profession's cosine with g: the sign says which side it leans to."""


def indirect_bias_table(vocabulary: WordVectors, word: str, direction: np.ndarray, k: int = 10) -> list[IndirectRow]:
    """The k professions most similar to a word, how much of each similarity is gender, and each one's
    lean on g (β is negative where the two words lean opposite ways: gender pulled them apart)."""
    rows = [
        IndirectRow(
            p,
            vocabulary.similarity(word, p),
            indirect_bias(vocabulary, word, p, direction),
            cosine(vocabulary.vector(p), direction),
        )
        for p in known_professions(vocabulary)
        if p != vocabulary.known(word)
    ]
    return sorted(rows, key=lambda row: -row.similarity)[:k]


BARELY_LEANS = 0.05
"""A cosine with g below this in size: the word hardly leans either way."""


def indirect_bias_reading(word: str, word_lean: float, rows: Sequence[IndirectRow]) -> str:
    """What the signs of β in a table mean, in words, from its own numbers. A negative β is a rising
    similarity: w⊥ and v⊥ are rescaled to length 1, so what the words share weighs more once g is gone."""
    negative = sum(1 for row in rows if row.due_to_gender < 0)
    text = (
        "β > 0: part of the two words' closeness is gender they share (they lean the same way). β < 0: they "
        "grow closer once gender is removed, because each vector, cut free of g and scaled back to length 1, "
        "is more of what they share; it happens when they lean opposite ways, or when one hardly leans. "
    )
    if abs(word_lean) < BARELY_LEANS:
        text += (
            f"'{word}' hardly leans on g ({word_lean:+.3f}), so gender is not what makes it close to these professions"
        )
    else:
        opposite = sum(1 for row in rows if row.lean * word_lean < 0)
        text += (
            f"'{word}' leans to the {'she' if word_lean > 0 else 'he'} side ({word_lean:+.3f}) and {opposite} of "
            f"these {len(rows)} professions lean the other way"
        )
    return text + f": {negative} of the {len(rows)} shares here are negative."


@dataclass(frozen=True)
class Neutralised:
    vector: np.ndarray
    bias_component: np.ndarray
    debiased: np.ndarray


def neutralise(vector: np.ndarray, g: np.ndarray) -> Neutralised:
    """The course's neutralise: remove the component along g, e − (e·g / ‖g‖²) g."""
    bias_component = np.dot(vector, g) / np.dot(g, g) * g
    return Neutralised(vector, bias_component, vector - bias_component)


def equalise(first: np.ndarray, second: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The course's equalise: both words get the pair's mean orthogonal to g (μ⊥) and opposite
    components along g of equal length, so they are equally far from every neutralised word."""

    def along_g(v):
        return np.dot(v, g) / np.dot(g, g) * g

    mean = (first + second) / 2
    mean_b = along_g(mean)
    mean_orth = mean - mean_b
    scale = np.sqrt(abs(1 - np.dot(mean_orth, mean_orth)))
    corrected = [scale * (along_g(v) - mean_b) / np.linalg.norm(v - mean_orth - mean_b) for v in (first, second)]
    return corrected[0] + mean_orth, corrected[1] + mean_orth


@dataclass(frozen=True)
class AnalogyPair:
    female: str
    male: str
    score: float
    """cos(she − he, x − y)."""


def frequent_words(vocabulary: WordVectors, count: int = ANALOGY_CANDIDATES) -> list[str]:
    """The most frequent words made of letters only (no numbers or punctuation)."""
    return [w for w in vocabulary.words[:count] if w.isalpha()]


def generated_analogies(
    vocabulary: WordVectors, pool: Sequence[str], seed: tuple[str, str] = ("she", "he"), n: int = 15, delta: float = 1.0
) -> list[AnalogyPair]:
    """The paper's analogy generator: pairs (x, y) of the pool's unit vectors closer than δ that
    best match she − he, S(x, y) = cos(she − he, x − y); each word is used once, the seed words not at all."""
    direction = unit(vocabulary.unit(seed[0]) - vocabulary.unit(seed[1]))
    words = [w for w in dict.fromkeys(pool) if w in vocabulary and w not in seed]
    x = np.array([vocabulary.unit(w) for w in words])
    along = x @ direction
    best = []
    for start in range(0, len(words), 500):
        gram = x[start : start + 500] @ x.T
        distance = np.sqrt(np.maximum(2 - 2 * gram, 1e-12))
        score = (along[start : start + 500, None] - along[None, :]) / distance
        score[(distance > delta) | (distance < 1e-6)] = -np.inf
        top = np.argpartition(-score, min(n * 4, score.size - 1), axis=None)[: n * 4]
        best += [(score.flat[f], start + f // len(words), f % len(words)) for f in top if np.isfinite(score.flat[f])]
    used, pairs = set(), []
    for value, i, j in sorted(best, reverse=True):
        if words[i] in used or words[j] in used:
            continue
        used.update((words[i], words[j]))
        pairs.append(AnalogyPair(words[i], words[j], float(value)))
        if len(pairs) == n:
            break
    return pairs


@dataclass(frozen=True)
class WeatResult:
    effect_size: float
    p_value: float
    association: dict[str, float]
    """s(w, A, B) of every target word: its mean cosine with A minus its mean cosine with B."""


def weat(
    vocabulary: WordVectors, targets_x, targets_y, attributes_a, attributes_b, samples: int = 20_000, seed: int = 0
) -> WeatResult:
    """Caliskan et al.'s effect size d = (mean_X s − mean_Y s) / std_{X∪Y} s, and the one-sided
    permutation p-value of Σ_X s − Σ_Y s (exact when there are at most `samples` splits)."""

    def mean_cosine(word, attributes):
        return np.mean([vocabulary.similarity(word, a) for a in attributes])

    targets = list(targets_x) + list(targets_y)
    association = {w: float(mean_cosine(w, attributes_a) - mean_cosine(w, attributes_b)) for w in targets}
    s = np.array([association[w] for w in targets])
    size = len(targets_x)
    effect = (s[:size].mean() - s[size:].mean()) / s.std(ddof=1)
    statistic = s[:size].sum() - s[size:].sum()
    total = s.sum()
    if math.comb(len(targets), size) <= samples:
        splits = np.array(list(itertools.combinations(range(len(targets)), size)))
    else:
        rng = np.random.default_rng(seed)
        splits = np.array([rng.permutation(len(targets))[:size] for _ in range(samples)])
    permuted = 2 * s[splits].sum(axis=1) - total
    return WeatResult(float(effect), float(np.mean(permuted > statistic)), association)


@dataclass(frozen=True)
class Debiased:
    vocabulary: WordVectors
    """Unit-length vectors with bias removed from every neutral word and the pairs equalised."""
    neutralised: int
    equalised: tuple[tuple[str, str], ...]


def hard_debias(
    vocabulary: WordVectors,
    direction: np.ndarray,
    specific: Sequence[str] = GENDER_SPECIFIC,
    pairs: Sequence[tuple[str, str]] = EQUALISE_PAIRS,
) -> Debiased:
    """Bolukbasi et al.'s hard debiasing (their `debias`): normalise, remove the component along
    g from every word outside the gender-specific list, normalise again, then equalise each pair:
    both get the pair's mean without its g part (ν) plus ±√(1 − ‖ν‖²) g."""
    g = unit(np.asarray(direction, dtype="float64")).astype("float32")
    vectors = vocabulary.vectors / vocabulary.norms[:, None]
    along = vectors @ g
    kept = [vocabulary.index[w] for w in specific if w in vocabulary]
    along[kept] = 0  # in place, without copies of the table: the gender-specific words keep their part
    for start in range(
        0, len(vectors), 20_000
    ):  # in chunks: a temporary the size of the table is 76 MB at 400,000 words
        part = vectors[start : start + 20_000]
        part -= np.outer(along[start : start + 20_000], g)
        part /= np.linalg.norm(part, axis=1, keepdims=True)
    neutral = len(vocabulary) - len(set(kept))
    g64 = g.astype("float64")
    used = []
    for female, male in pairs:
        if female not in vocabulary or male not in vocabulary:
            continue
        a, b = (vectors[vocabulary.index[w]].astype("float64") for w in (female, male))
        nu = (a + b) / 2
        nu -= np.dot(nu, g64) * g64
        z = np.sqrt(max(1 - np.dot(nu, nu), 0.0))
        if np.dot(a - b, g64) < 0:
            z = -z
        vectors[vocabulary.index[female]] = z * g64 + nu
        vectors[vocabulary.index[male]] = -z * g64 + nu
        used.append((female, male))
    return Debiased(vocabulary.with_vectors(vectors.astype("float32", copy=False)), neutral, tuple(used))


def plane_coordinates(vector: np.ndarray, g: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """A vector's coordinates along ĝ and along the part of `other` orthogonal to g: the plane in
    which neutralising and equalising happen."""
    g_hat = unit(g)
    other_perp = other - np.dot(other, g_hat) * g_hat
    return float(np.dot(vector, g_hat)), float(np.dot(vector, unit(other_perp)))


@dataclass(frozen=True)
class EqualisedPair:
    words: tuple[str, str]
    before: tuple[np.ndarray, np.ndarray]
    after: tuple[np.ndarray, np.ndarray]
    mean_orth: np.ndarray


def equalise_words(vocabulary: WordVectors, female: str, male: str, g: np.ndarray) -> EqualisedPair:
    a, b = vocabulary.vector(female), vocabulary.vector(male)
    after = equalise(a, b, g)
    mean = (a + b) / 2
    return EqualisedPair(
        (vocabulary.known(female), vocabulary.known(male)), (a, b), after, mean - np.dot(mean, g) / np.dot(g, g) * g
    )


@dataclass(frozen=True)
class BiasReport:
    """Every measure of the lesson for one vocabulary, to set before and after side by side."""

    direct_bias: float
    weat: dict[str, WeatResult]
    analogy_pairs: list[AnalogyPair]
    kept: list[tuple[str, str]]
    """(question, answer) for each analogy that should survive."""
    stereotypes: list[tuple[str, str]]


def bias_report(vocabulary: WordVectors, direction: np.ndarray) -> BiasReport:
    def answered(questions):
        return [
            (f"{a} : {b} :: {c} : ?", vocabulary.analogy(a, b, c, k=1)[0][0])
            for a, b, c, *_ in questions
            if all(w in vocabulary for w in (a, b, c))
        ]

    tests = {
        name: weat(vocabulary, *sets)
        for name, sets in WEAT_TESTS.items()
        if all(w in vocabulary for group in sets for w in group)
    }
    return BiasReport(
        direct_bias(vocabulary, known_professions(vocabulary), direction),
        tests,
        generated_analogies(vocabulary, PROFESSIONS, n=5),
        answered(ANALOGIES_TO_KEEP),
        answered(STEREOTYPE_ANALOGIES),
    )


@dataclass(frozen=True)
class DebiasCheck:
    largest_neutral_projection: float
    """max |cos(w, g)| over every neutralised word: 0 up to float32 rounding."""
    largest_distance_gap: float
    """max over equalised pairs (a, b) and neutral words w of | ‖a − w‖ − ‖b − w‖ |."""


def check_debiased(
    result: Debiased, direction: np.ndarray, specific: Sequence[str] = GENDER_SPECIFIC, chunk: int = 20_000
) -> DebiasCheck:
    """Both guarantees measured over every neutral word, a chunk of rows at a time in float64 (the
    whole table in float64 would be 160 MB for 400,000 words)."""
    vocabulary = result.vocabulary
    neutral = np.ones(len(vocabulary), dtype=bool)
    neutral[[vocabulary.index[w] for w in specific if w in vocabulary]] = False
    g = unit(np.asarray(direction, dtype="float64"))
    pairs = np.array([[vocabulary.vector(w) for w in pair] for pair in result.equalised]).reshape(-1, 2, len(g))
    projection = gap = 0.0
    for start in range(0, len(vocabulary), chunk):
        rows = vocabulary.vectors[start : start + chunk][neutral[start : start + chunk]].astype("float64")
        squared = np.sum(rows**2, axis=1)
        projection = max(projection, float(np.max(np.abs(rows @ g) / np.sqrt(squared), initial=0.0)))
        if len(pairs):

            def distances(points, rows=rows, squared=squared):
                return np.sqrt(
                    np.maximum(np.sum(points**2, axis=1)[:, None] + squared[None, :] - 2 * points @ rows.T, 0)
                )

            gap = max(gap, float(np.max(np.abs(distances(pairs[:, 0]) - distances(pairs[:, 1])), initial=0.0)))
    return DebiasCheck(projection, gap)


CONTROLS = (
    Control(
        "vocabulary",
        "Vocabulary (most frequent words)",
        "select",
        DEFAULT_VOCABULARY,
        options=VOCABULARY_SIZES,
        help="Fewer words load faster and use less memory; rarer words need a larger vocabulary.",
    ),
    Control(
        "direction",
        "Gender direction g",
        "select",
        COURSE_DIRECTION,
        options=DIRECTIONS,
        help="The course's single pair, or the paper's principal component of ten pairs.",
    ),
)
BOX = ControlBox("vectors", "Vectors and direction", CONTROLS)


def extremes(vocabulary: WordVectors, direction: np.ndarray, k: int = 10, among: int = 20_000) -> tuple[list, list]:
    """The k frequent words with the highest and with the lowest cosine with the direction."""
    words = frequent_words(vocabulary, among)
    scores = vocabulary.cosines(direction)[[vocabulary.index[w] for w in words]]
    order = np.argsort(scores)
    return ([(words[i], float(scores[i])) for i in order[::-1][:k]], [(words[i], float(scores[i])) for i in order[:k]])
