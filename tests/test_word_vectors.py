"""Word vectors and debiasing: the course's and the paper's numbers with the GloVe 6B 50-d vectors,
hard debiasing's guarantees checked directly, WEAT against a plain loop and odd input."""

import itertools

import numpy as np
import pytest
from sklearn.decomposition import PCA

from core.lessons.word_vectors import debias
from core.lessons.word_vectors.wordlists import (
    DEFINITIONAL_PAIRS,
    EQUALISE_PAIRS,
    GENDER_SPECIFIC,
    PROFESSIONS,
    WEAT_TESTS,
)
from core.shared import glove


@pytest.fixture(scope="module")
def vocabulary():
    return glove.load(50_000)


@pytest.fixture(scope="module")
def course_g(vocabulary):
    return vocabulary.vector("woman") - vocabulary.vector("man")


def test_the_course_similarities(vocabulary):
    assert round(vocabulary.similarity("father", "mother"), 4) == 0.8909
    assert round(vocabulary.similarity("ball", "crocodile"), 4) == 0.2744
    france_paris = vocabulary.vector("france") - vocabulary.vector("paris")
    rome_italy = vocabulary.vector("rome") - vocabulary.vector("italy")
    assert round(glove.cosine(france_paris, rome_italy), 4) == -0.6751


def test_neutralising_receptionist_removes_its_gender_component(vocabulary, course_g):
    receptionist = vocabulary.vector("receptionist")
    assert round(glove.cosine(receptionist, course_g), 4) == 0.3308
    step = debias.neutralise(receptionist, course_g)
    assert abs(glove.cosine(step.debiased, course_g)) < 1e-6
    np.testing.assert_allclose(step.bias_component + step.debiased, receptionist)


def test_equalising_man_and_woman_gives_the_course_values(vocabulary, course_g):
    woman, man = debias.equalise(vocabulary.vector("woman"), vocabulary.vector("man"), course_g)
    assert round(glove.cosine(woman, course_g), 4) == 0.7004
    assert round(glove.cosine(man, course_g), 4) == -0.7004
    neutral = debias.neutralise(vocabulary.vector("receptionist"), course_g).debiased
    assert np.linalg.norm(woman - neutral) == pytest.approx(np.linalg.norm(man - neutral), rel=1e-12)


def test_king_minus_man_plus_woman_is_queen(vocabulary):
    assert vocabulary.analogy("man", "king", "woman", k=1)[0][0] == "queen"
    answers = [word for word, _ in vocabulary.analogy("man", "king", "woman", k=5)]
    assert not {"man", "king", "woman"} & set(answers)


def test_neighbours_are_sorted_and_leave_the_word_out(vocabulary):
    neighbours = vocabulary.neighbours("frog", 10)
    scores = [score for _, score in neighbours]
    assert scores == sorted(scores, reverse=True) and "frog" not in dict(neighbours)
    assert neighbours[0][1] == pytest.approx(vocabulary.similarity("frog", neighbours[0][0]))
    brute = sorted(
        ((vocabulary.similarity("frog", w), w) for w in vocabulary.words[:50_000] if w != "frog"), reverse=True
    )
    assert [w for _, w in brute[:10]] == [w for w, _ in neighbours]


def test_the_paper_direction_is_sklearns_first_principal_component(vocabulary):
    rows = []
    for female, male in DEFINITIONAL_PAIRS:
        a, b = vocabulary.unit(female), vocabulary.unit(male)
        rows += [a - (a + b) / 2, b - (a + b) / 2]
    reference = PCA(n_components=10).fit(np.array(rows))
    ours = debias.principal_components(vocabulary)
    assert abs(np.dot(ours.direction, reference.components_[0])) == pytest.approx(1, abs=1e-9)
    np.testing.assert_allclose(ours.explained, reference.explained_variance_ratio_, atol=1e-9)
    assert np.dot(ours.direction, vocabulary.vector("she") - vocabulary.vector("he")) > 0
    random = debias.principal_components(vocabulary, debias.random_pairs(vocabulary, 10))
    assert ours.explained[0] > 2 * random.explained[0]


def test_direct_and_indirect_bias_follow_their_definitions(vocabulary, course_g):
    g = debias.unit(course_g)
    professions = debias.known_professions(vocabulary)
    expected = np.mean([abs(np.dot(vocabulary.unit(p), g)) for p in professions])
    assert debias.direct_bias(vocabulary, professions, g) == pytest.approx(expected)
    w, v = vocabulary.unit("softball"), vocabulary.unit("receptionist")
    w_after, v_after = debias.neutralise(w, g).debiased, debias.neutralise(v, g).debiased
    share = (np.dot(w, v) - glove.cosine(w_after, v_after)) / np.dot(w, v)
    assert debias.indirect_bias(vocabulary, "softball", "receptionist", g) == pytest.approx(share)


def test_generated_analogies_are_close_pairs_along_she_minus_he(vocabulary):
    pairs = debias.generated_analogies(vocabulary, PROFESSIONS, n=10)
    seed = vocabulary.unit("she") - vocabulary.unit("he")
    words = [w for p in pairs for w in (p.female, p.male)]
    assert len(words) == len(set(words)) == 20
    for pair in pairs:
        x, y = vocabulary.unit(pair.female), vocabulary.unit(pair.male)
        assert np.linalg.norm(x - y) <= 1
        assert pair.score == pytest.approx(glove.cosine(seed, x - y))
    scores = [p.score for p in pairs]
    assert scores == sorted(scores, reverse=True)
    best = max(
        glove.cosine(seed, vocabulary.unit(a) - vocabulary.unit(b))
        for a, b in itertools.permutations([p for p in PROFESSIONS if p in vocabulary], 2)
        if np.linalg.norm(vocabulary.unit(a) - vocabulary.unit(b)) <= 1
    )
    assert pairs[0].score == pytest.approx(best)


def test_weat_equals_a_plain_loop_and_is_antisymmetric(vocabulary):
    x, y, a, b = WEAT_TESTS["career vs family (names)"]

    def s(word):
        return np.mean([vocabulary.similarity(word, w) for w in a]) - np.mean(
            [vocabulary.similarity(word, w) for w in b]
        )

    values = [s(w) for w in x + y]
    expected = (np.mean(values[: len(x)]) - np.mean(values[len(x) :])) / np.std(values, ddof=1)
    result = debias.weat(vocabulary, x, y, a, b)
    assert result.effect_size == pytest.approx(expected)
    assert result.effect_size > 1 and result.p_value < 0.01
    swapped = debias.weat(vocabulary, y, x, a, b)
    assert swapped.effect_size == pytest.approx(-result.effect_size)
    assert swapped.p_value > 0.99


def test_word_lists_are_disjoint_and_in_the_default_vocabulary(vocabulary):
    paired = [w for pair in DEFINITIONAL_PAIRS + EQUALISE_PAIRS for w in pair]
    assert len(paired) == len(set(paired))
    assert not set(PROFESSIONS) & set(GENDER_SPECIFIC)
    for word in paired + list(PROFESSIONS) + [w for sets in WEAT_TESTS.values() for group in sets for w in group]:
        assert word in vocabulary, word


@pytest.mark.parametrize("direction_kind", debias.DIRECTIONS)
def test_hard_debiasing_zeroes_neutral_words_and_equalises_pairs(vocabulary, direction_kind):
    g = debias.gender_direction(vocabulary, direction_kind)
    result = debias.hard_debias(vocabulary, g)
    after = result.vocabulary
    assert len(result.equalised) == len(EQUALISE_PAIRS) and result.neutralised == len(vocabulary) - len(
        [w for w in GENDER_SPECIFIC if w in vocabulary]
    )
    np.testing.assert_allclose(np.linalg.norm(after.vectors, axis=1), 1, atol=1e-6)
    specific = {after.index[w] for w in GENDER_SPECIFIC if w in after}
    neutral = np.array([i for i in range(len(after)) if i not in specific])
    assert np.max(np.abs(after.vectors[neutral] @ g)) < 1e-6
    sample = after.vectors[neutral[::50]].astype("float64")
    for female, male in EQUALISE_PAIRS:
        a, b = after.vector(female), after.vector(male)
        np.testing.assert_allclose(np.linalg.norm(sample - a, axis=1), np.linalg.norm(sample - b, axis=1), atol=1e-5)
        side = np.sign(np.dot(vocabulary.unit(female) - vocabulary.unit(male), g))
        assert (
            np.dot(a, g) * side > 0 > np.dot(b, g) * side
        )  # each keeps its side (stepmother–stepfather is reversed on woman − man)
    check = debias.check_debiased(result, g)
    assert check.largest_neutral_projection < 1e-6 and check.largest_distance_gap < 1e-5
    for word in ("mother", "she", "father"):
        assert after.vector(word) == pytest.approx(vocabulary.unit(word), abs=1e-6)


def test_debiasing_removes_the_direct_bias_and_keeps_gender_analogies(vocabulary):
    g = debias.gender_direction(vocabulary, debias.PAPER_DIRECTION)
    before = debias.bias_report(vocabulary, g)
    after = debias.bias_report(debias.hard_debias(vocabulary, g).vocabulary, g)
    assert before.direct_bias > 0.1 and after.direct_bias < 1e-6
    assert after.analogy_pairs[0].score < before.analogy_pairs[0].score
    assert dict(after.kept)["man : king :: woman : ?"] == "queen"
    assert after.weat["maths vs arts"].effect_size < before.weat["maths vs arts"].effect_size


def test_a_capped_vocabulary_is_the_first_rows_of_the_full_one(vocabulary):
    small = glove.load(10_000)
    assert small.words == vocabulary.words[:10_000]
    np.testing.assert_array_equal(small.vectors, vocabulary.vectors[:10_000])
    assert "actuary" not in vocabulary
    with pytest.raises(glove.UnknownWord, match="word number 63,617 by frequency: outside the 50,000"):
        vocabulary.known("actuary")


@pytest.mark.parametrize(
    "typed, message",
    [
        ("", "Type a word."),
        ("   ", "Type a word."),
        ("new york", "more than one word"),
        ("frogg", "Did you mean 'frog'"),
        ("qqqzzzq", "GloVe has no vector for 'qqqzzzq'."),
    ],
)
def test_odd_words_get_a_message(vocabulary, typed, message):
    with pytest.raises(glove.UnknownWord, match=message):
        vocabulary.known(typed)


def test_typed_words_are_cleaned_and_a_long_paste_is_cut(vocabulary):
    assert vocabulary.known("  Nurse ") == "nurse"
    parsed = glove.parse_words("Nurse, doctor ,,\n!!! nurse qqqzzzq", vocabulary)
    assert parsed.words == ("nurse", "doctor", "!!!")
    assert parsed.notes == ("GloVe has no vector for 'qqqzzzq'.",)
    pasted = " ".join([w for w in vocabulary.words[100:2000] if w.isalpha()][:1000])
    long = glove.parse_words(pasted, vocabulary)
    assert len(long.words) == glove.MAX_LISTED_WORDS
    assert f"Showing the first {glove.MAX_LISTED_WORDS} of 1000 words." in long.notes
    unknown = glove.parse_words(" ".join(f"zzq{i}x" for i in range(30)), vocabulary)
    assert unknown.words == () and unknown.notes[-1] == "… and 25 more words not in the vocabulary."
    assert glove.parse_words("", vocabulary) == glove.WordList((), ())


def test_the_equalise_chart_draws_before_dotted_with_no_solid_shaft_over_it():
    from core.charts.words import HEAD_SHARE, equalise_plane

    before = {"actress": (0.3, 0.8), "actor": (-0.1, 0.7)}
    after = {"actress": (0.5, 0.75), "actor": (-0.5, 0.75)}
    fig = equalise_plane(before, after, ("receptionist", (0.0, 0.75)), "title")
    dotted = [t for t in fig.data if t.name and "before" in t.name]
    assert len(dotted) == 2 and all(t.line.dash == "dot" for t in dotted)
    for end in before.values():
        arrow = next(a for a in fig.layout.annotations if (a.x, a.y) == end)
        shaft = np.hypot(arrow.x - arrow.ax, arrow.y - arrow.ay)
        assert shaft <= HEAD_SHARE * np.hypot(*end) + 1e-9  # only the head, the dots stay visible
    for end in after.values():
        arrow = next(a for a in fig.layout.annotations if (a.x, a.y) == end)
        assert (arrow.ax, arrow.ay) == (0, 0)  # the equalised vector: a solid arrow from the origin


def test_a_negative_indirect_bias_is_explained_from_the_table_itself(vocabulary, course_g):
    """β < 0 means the similarity rises once g is removed (the paper's formula, rescaled vectors): the table
    shows each profession's lean and the page says why, with the counts from the same rows."""
    rows = debias.indirect_bias_table(vocabulary, "softball", course_g)
    for row in rows:
        w, v, g = vocabulary.unit("softball"), vocabulary.unit(row.profession), debias.unit(course_g)
        after = glove.cosine(w - np.dot(w, g) * g, v - np.dot(v, g) * g)
        assert (row.due_to_gender < 0) == (after > row.similarity)
        assert row.lean == pytest.approx(glove.cosine(vocabulary.vector(row.profession), course_g))
    lean = debias.projections(vocabulary, ["softball"], course_g)["softball"]
    reading = debias.indirect_bias_reading("softball", lean, rows)
    negative = sum(row.due_to_gender < 0 for row in rows)
    assert f"{negative} of the {len(rows)} shares here are negative" in reading
    assert "hardly leans" in reading if abs(lean) < debias.BARELY_LEANS else "side" in reading
    leaning = debias.indirect_bias_reading("x", -0.3, rows)
    assert f"{sum(row.lean > 0 for row in rows)} of these {len(rows)} professions lean the other way" in leaning


def test_projection_labels_are_placed_where_they_cover_no_other_label():
    from core.charts.words import _overlap, custom_projection, label_boxes, label_sides

    rng = np.random.default_rng(0)
    points = [(f"word{i}", float(x), float(y)) for i, (x, y) in enumerate(rng.normal(0, 0.05, (12, 2)))]
    points += [("far", 1.0, 1.0), ("away", -1.0, -1.0)]  # a wide span: the cluster's labels crowd together

    def collisions(sides):
        boxes = label_boxes(points, sides)
        return sum(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])

    assert collisions(["top center"] * len(points)) > 0
    sides = label_sides(points)
    assert collisions(sides) < collisions(["top center"] * len(points))
    assert list(custom_projection(points, "x", "y", "t").data[0].textposition) == sides
    assert label_sides([("alone", 0.0, 0.0)]) == ["top center"]
