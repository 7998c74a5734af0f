"""Word vectors and debiasing: a GloVe playground, the gender direction, the bias it reveals, and
its removal step by step (Bolukbasi et al. 2016, and the course's Neutralise/Equalise exercise).
Each section is a fragment; the vocabulary and the direction are chosen once at the top."""

import numpy as np
import pandas as pd
import streamlit as st

from core.charts.words import (
    FEMALE_SIDE,
    MALE_SIDE,
    custom_projection,
    equalise_plane,
    explained_variance,
    gender_bars,
    neutralise_arrows,
    scored_words,
    weat_strip,
)
from core.engine.text import markdown_literal
from core.lessons import lesson
from core.lessons.word_vectors import debias
from core.lessons.word_vectors.wordlists import DEFINITIONAL_PAIRS, EQUALISE_PAIRS, WEAT_TESTS
from core.shared import glove
from core.ui.controls import lesson_controls
from core.ui.figures import show_figure
from core.ui.layout import bullet_list, lesson_header

LESSON = lesson("word_vectors")
lesson_header(
    LESSON,
    "A word vector places each word as a point in 50 dimensions, learned from which words appear "
    "near which in 6 billion words of text (GloVe: Wikipedia and news). Words used alike end up close, "
    "and directions carry meaning: *king − man + woman* lands near *queen*. The same directions carry "
    "the text's stereotypes. Explore the vectors, find the gender direction, measure the bias and remove "
    "it, the way Bolukbasi et al. (2016) did.",
)


@st.cache_resource(max_entries=2, show_spinner=False)
def vocabulary_of(size: int) -> tuple[glove.WordVectors, float]:
    """One copy per vocabulary size for every session (50,000 words: 10 MB)."""
    return glove.timed_load(size)


@st.cache_resource(max_entries=2, show_spinner=False)
def debiased_of(size: int, direction_kind: str):
    """The hard-debiased vocabulary, its check and every measure before and after: computed once
    per vocabulary and direction, not on every click in the section (1.6 s for 400,000 words)."""
    vocabulary, _ = vocabulary_of(size)
    g = debias.gender_direction(vocabulary, direction_kind)
    result = debias.hard_debias(vocabulary, g)
    return (
        result,
        debias.check_debiased(result, g),
        debias.bias_report(vocabulary, g),
        debias.bias_report(result.vocabulary, g),
    )


@st.cache_resource(max_entries=4, show_spinner=False)
def generated_pairs(size: int, frequent: bool) -> list[debias.AnalogyPair]:
    """The she–he generator over the professions or the most frequent words (0.4 s): once per choice."""
    vocabulary, _ = vocabulary_of(size)
    pool = debias.frequent_words(vocabulary) if frequent else debias.known_professions(vocabulary)
    return debias.generated_analogies(vocabulary, pool, n=12)


def word_box(vocabulary: glove.WordVectors, label: str, default: str, key: str, column=None) -> str | None:
    """A one-word text box; None, with the reason and suggestions shown, for a word GloVe lacks."""
    where = column or st
    text = where.text_input(label, value=default, key=f"word_vectors:{key}")
    try:
        return vocabulary.known(text)
    except glove.UnknownWord as error:
        where.error(markdown_literal(error, None), icon=":material/spellcheck:")
        return None


def word_list(vocabulary: glove.WordVectors, label: str, default: str, key: str) -> tuple[str, ...]:
    parsed = glove.parse_words(st.text_area(label, value=default, key=f"word_vectors:{key}", height=80), vocabulary)
    for note in parsed.notes:
        st.caption(f":material/info: {markdown_literal(note, None)}")
    return parsed.words


config = lesson_controls(LESSON.slug, debias.BOX)
with st.spinner(f"Loading {config['vocabulary']:,} GloVe vectors…"):
    VOCABULARY, LOAD_SECONDS = vocabulary_of(config["vocabulary"])
G = debias.gender_direction(VOCABULARY, config["direction"])
st.caption(
    f"GloVe 6B, 50 dimensions: the {len(VOCABULARY):,} most frequent words "
    f"({VOCABULARY.vectors.nbytes / 2**20:.0f} MB), loaded in {LOAD_SECONDS:.2f} s. "
    f"g is **{config['direction']}**, scaled to length 1."
)


@st.fragment
def playground_section():
    st.header("Word-vector playground")
    st.markdown(
        "**Cosine similarity** is the cosine of the angle between two vectors: 1 for the same direction, 0 "
        "for unrelated, negative for opposite. Type any words (GloVe is lower case)."
    )
    left, right = st.columns(2)
    first = word_box(VOCABULARY, "First word", "father", "sim_a", left)
    second = word_box(VOCABULARY, "Second word", "mother", "sim_b", right)
    if first and second:
        st.metric(f"cos({first}, {second})", f"{VOCABULARY.similarity(first, second):.4f}")
    left, right = st.columns(2)
    with left:
        word = word_box(VOCABULARY, "Nearest neighbours of", "frog", "neighbours")
        if word:
            show_figure(
                scored_words(VOCABULARY.neighbours(word, 10), f"The 10 words nearest to '{word}'"),
                key="words:neighbours",
            )
    with right:
        st.markdown("**Analogy** a : b :: c : ? — the words nearest to b − a + c")
        columns = st.columns(3)
        a = word_box(VOCABULARY, "a", "man", "analogy_a", columns[0])
        b = word_box(VOCABULARY, "b", "king", "analogy_b", columns[1])
        c = word_box(VOCABULARY, "c", "woman", "analogy_c", columns[2])
        if a and b and c:
            answers = VOCABULARY.analogy(a, b, c, k=5)
            show_figure(
                scored_words(answers, f"{a} : {b} :: {c} : {answers[0][0]}", f"cosine with {b} − {a} + {c}"),
                key="words:analogy",
            )
    st.subheader("Your own projection")
    st.markdown(
        "Like the Embedding Projector's custom projection: each axis is the direction from one word to "
        "another, and each word is placed by its cosine with both directions."
    )
    columns = st.columns(4)
    x_from = word_box(VOCABULARY, "x axis from", "he", "x_from", columns[0])
    x_to = word_box(VOCABULARY, "x axis to", "she", "x_to", columns[1])
    y_from = word_box(VOCABULARY, "y axis from", "arts", "y_from", columns[2])
    y_to = word_box(VOCABULARY, "y axis to", "science", "y_to", columns[3])
    words = word_list(
        VOCABULARY,
        "Words to place",
        "nurse engineer receptionist surgeon homemaker programmer nanny "
        "carpenter dancer captain librarian scientist mother father queen king",
        "projection_words",
    )
    if all((x_from, x_to, y_from, y_to)) and words:
        if x_from == x_to or y_from == y_to:
            st.error("An axis needs two different words.", icon=":material/edit_off:")
            return
        points, axes_cosine = glove.custom_projection(VOCABULARY, words, (x_from, x_to), (y_from, y_to))
        show_figure(
            custom_projection(
                points,
                f"cos with {x_to} − {x_from}",
                f"cos with {y_to} − {y_from}",
                f"{len(points)} words on two directions",
            ),
            key="words:projection",
        )
        st.caption(
            f"The two axes have cosine {axes_cosine:.3f} with each other "
            f"({'nearly independent' if abs(axes_cosine) < 0.2 else 'related: the picture is skewed'})."
        )
    with st.expander("What to notice", expanded=True):
        st.markdown(
            f"- Neighbours share a use, not always a meaning: opposites such as *hot* and *cold* are close "
            f"(cosine {VOCABULARY.similarity('hot', 'cold'):.2f}), because they appear in the same sentences.\n"
            "- Analogies work because a relation is a roughly constant direction: *king − man* is close to "
            "*queen − woman*.\n"
            "- In the projection, professions spread along he → she although none of them is gendered."
        )


@st.fragment
def direction_section():
    st.header("Find the bias direction")
    components = debias.principal_components(VOCABULARY)
    random = debias.principal_components(VOCABULARY, debias.random_pairs(VOCABULARY, len(components.pairs)))
    course = debias.gender_direction(VOCABULARY, debias.COURSE_DIRECTION)
    st.markdown(
        "The course takes one pair: **g = woman − man**. One pair is noisy (*woman* and *man* differ in "
        "other ways too), so the paper takes ten pairs — "
        + ", ".join(f"{f}–{m}" for f, m in DEFINITIONAL_PAIRS)
        + " — centres each pair on its mean, and finds their main direction of difference by principal "
        "component analysis (PCA)."
    )
    left_out = [f"{f}–{m}" for f, m in DEFINITIONAL_PAIRS if (f, m) not in components.pairs]
    if left_out:
        st.caption(f":material/info: {', '.join(left_out)} left out: not among the {len(VOCABULARY):,} words in use.")
    left, right = st.columns([2, 1])
    with left:
        show_figure(
            explained_variance(
                components.explained,
                random.explained,
                len(components.pairs),
                "How much of the pairs' differences each direction explains",
            ),
            key="direction:variance",
        )
    with right:
        st.metric(
            "First component, gender pairs",
            f"{components.explained[0]:.0%}",
            f"{components.explained[0] - random.explained[0]:+.0%} against random pairs",
        )
        st.metric("cos(woman − man, first component)", f"{glove.cosine(course, components.direction):.3f}")
    she_end, he_end = debias.extremes(VOCABULARY, G)
    left, right = st.columns(2)
    with left:
        show_figure(
            scored_words(she_end, "Words at the she end of g", "cosine with g", FEMALE_SIDE), key="direction:she"
        )
    with right:
        show_figure(scored_words(he_end, "Words at the he end of g", "cosine with g", MALE_SIDE), key="direction:he")
    with st.expander("What to notice", expanded=True):
        st.markdown(
            bullet_list(
                [
                    f"One direction explains {components.explained[0]:.0%} of the {len(components.pairs)} pairs' "
                    f"differences; for "
                    f"as many random pairs the largest explains {random.explained[0]:.0%}. Gender really is close to "
                    f"one direction.",
                    f"The single pair woman − man and the ten-pair component agree only partly (cosine "
                    f"{glove.cosine(course, components.direction):.2f}): switch g at the top and compare every "
                    f"measure.",
                    "Both ends of g hold gendered words, but also names and topics: the direction is learned from "
                    "text, "
                    "and the text's associations come with it.",
                ]
            )
        )


@st.fragment
def bias_section():
    st.header("See the bias")
    leaning = debias.professions_by_lean(VOCABULARY, G)
    professions = list(leaning)
    shown = {w: leaning[w] for w in professions[:12] + professions[-12:]}
    st.markdown(
        f"Each of {len(professions)} gender-neutral professions, by its cosine with g. A fair embedding "
        "would put them all at 0."
    )
    left, right = st.columns([3, 2])
    with left:
        show_figure(gender_bars(shown, "The 12 professions at each end of g"), key="bias:professions")
    with right:
        strength = debias.direct_bias(VOCABULARY, professions, G)
        st.metric(
            f"Direct bias over {len(professions)} professions",
            f"{strength:.4f}",
            help="The paper's DirectBias₁: the mean of |cos(w, g)| over gender-neutral words.",
        )
        typed = word_list(VOCABULARY, "Your words", "brilliant genius lovely pretty strong emotional", "bias_words")
        if typed:
            show_figure(gender_bars(debias.projections(VOCABULARY, typed, G), "Your words on g"), key="bias:typed")
    st.subheader("Indirect bias")
    st.markdown(
        "Two words can be close *because* both lean the same way on g. The paper's β is the share of their "
        "similarity that disappears when the g component is removed from both."
    )
    word = word_box(VOCABULARY, "Professions closest to", "softball", "indirect")
    if word:
        rows = debias.indirect_bias_table(VOCABULARY, word, G)
        st.dataframe(
            pd.DataFrame(
                {
                    "profession": [r.profession for r in rows],
                    "cosine": [round(r.similarity, 4) for r in rows],
                    "its lean on g": [f"{r.lean:+.3f}" for r in rows],
                    "share due to gender (β)": [f"{r.due_to_gender:.1%}" for r in rows],
                }
            ),
            hide_index=True,
            key="bias:indirect",
        )
        lean = debias.projections(VOCABULARY, [word], G)[word]
        st.caption(markdown_literal(debias.indirect_bias_reading(word, lean, rows), None))
    st.subheader("she – he analogies, generated")
    st.markdown(
        "The paper's generator: pairs (x, y) less than 1 apart (unit vectors) whose difference points "
        "most like she − he. Each word is used once."
    )
    pool_name = st.radio(
        "Pair up",
        ("the professions", f"the {debias.ANALOGY_CANDIDATES:,} most frequent words"),
        horizontal=True,
        key="word_vectors:analogy_pool",
    )
    with st.spinner("Scoring every pair…"):
        pairs = generated_pairs(config["vocabulary"], pool_name != "the professions")
    st.dataframe(
        pd.DataFrame(
            {
                "she : x": [p.female for p in pairs],
                "he : y": [p.male for p in pairs],
                "cos(she − he, x − y)": [round(p.score, 3) for p in pairs],
            }
        ),
        hide_index=True,
        key="bias:analogies",
    )
    st.subheader("WEAT: bias without a direction")
    st.markdown(
        "Caliskan et al.'s Word Embedding Association Test compares two sets of target words X, Y by how much "
        "closer each is to attribute set A than to B. The effect size d is in standard deviations "
        "(0.8 counts as large); p is the share of random re-splits of X ∪ Y with a larger gap."
    )
    test = st.selectbox("Test", list(WEAT_TESTS), key="word_vectors:weat")
    targets_x, targets_y, attributes_a, attributes_b = WEAT_TESTS[test]
    missing = [w for group in WEAT_TESTS[test] for w in group if w not in VOCABULARY]
    if missing:
        st.warning(f"{', '.join(missing)} are outside this vocabulary: choose a larger one.", icon=":material/info:")
        return
    result = debias.weat(VOCABULARY, *WEAT_TESTS[test])
    left, right = st.columns([1, 3])
    left.metric("Effect size d", f"{result.effect_size:.2f}")
    left.metric("p-value", f"{result.p_value:.4f}")
    with right:
        show_figure(
            weat_strip(
                result.association,
                targets_x,
                targets_y,
                (f"A ({', '.join(attributes_a[:2])}, …)", f"B ({', '.join(attributes_b[:2])}, …)"),
                f"WEAT, {test}",
            ),
            key="bias:weat",
        )


def neutralise_part() -> None:
    st.subheader("1. Neutralise one word")
    st.markdown(
        "Remove the part of a gender-neutral word that lies along g: "
        "e − (e·g / ‖g‖²) g. What is left is orthogonal to g."
    )
    word = word_box(VOCABULARY, "Word to neutralise", "receptionist", "neutralise")
    if not word:
        return
    step = debias.neutralise(VOCABULARY.vector(word), G)
    before, after = glove.cosine(step.vector, G), glove.cosine(step.debiased, G)
    left, right = st.columns([1, 2])
    left.metric(f"cos({word}, g) before", f"{before:.4f}")
    left.metric(f"cos({word}, g) after", f"{after:.1e}")
    left.caption(
        f"The bias component is {np.linalg.norm(step.bias_component):.3f} long, of a vector "
        f"{np.linalg.norm(step.vector):.3f} long."
    )
    with right:
        along, across = debias.plane_coordinates(step.vector, G, step.vector)
        show_figure(neutralise_arrows(along, across, word, f"Neutralising '{word}'"), key="remove:neutralise")


def equalise_part() -> None:
    st.subheader("2. Equalise a pair")
    st.markdown(
        "A pair such as *actress – actor* should differ only along g. Equalising gives both words the "
        "pair's shared meaning μ⊥ and equal and opposite parts along g, so every neutralised word ends up "
        "equally far from both (the course's formula)."
    )
    pairs = list(DEFINITIONAL_PAIRS) + list(EQUALISE_PAIRS)
    known = [p for p in pairs if p[0] in VOCABULARY and p[1] in VOCABULARY]
    female, male = st.selectbox(
        "Pair", known, index=known.index(("woman", "man")), format_func=" – ".join, key="word_vectors:equalise_pair"
    )
    neutral = word_box(VOCABULARY, "A neutral word to measure distances to", "receptionist", "equalise_neutral")
    pair = debias.equalise_words(VOCABULARY, female, male, G)
    table = {"": ["cos with g", f"distance to {neutral} (neutralised)" if neutral else "distance"]}
    neutral_vector = debias.neutralise(VOCABULARY.vector(neutral), G).debiased if neutral else None
    for word, before, after in zip(pair.words, pair.before, pair.after):
        for moment, vector in (("before", before), ("after", after)):
            distance = np.linalg.norm(vector - neutral_vector) if neutral else float("nan")
            table[f"{word} {moment}"] = [f"{glove.cosine(vector, G):.4f}", f"{distance:.4f}"]
    st.dataframe(pd.DataFrame(table), hide_index=True, key="remove:equalise_table")
    plane = {w: debias.plane_coordinates(v, G, pair.mean_orth) for w, v in zip(pair.words, pair.before)}
    equalised = {w: debias.plane_coordinates(v, G, pair.mean_orth) for w, v in zip(pair.words, pair.after)}
    marker = (neutral, debias.plane_coordinates(neutral_vector, G, pair.mean_orth)) if neutral else None
    show_figure(equalise_plane(plane, equalised, marker, f"Equalising {female} – {male}"), key="remove:equalise")


def whole_vocabulary_part() -> None:
    st.subheader("3. Hard-debias the whole vocabulary")
    st.markdown(
        "The paper's method on every word: scale all vectors to length 1, neutralise every word that is "
        "not on the gender-specific list, then equalise every pair. Below, every measure before and after."
    )
    with st.spinner(f"Debiasing {len(VOCABULARY):,} words…"):
        result, check, before, after = debiased_of(config["vocabulary"], config["direction"])
    st.markdown(
        bullet_list(
            [
                f"{result.neutralised:,} words neutralised, {len(result.equalised)} pairs equalised.",
                f"Largest |cos(w, g)| left on a neutralised word: {check.largest_neutral_projection:.1e} (float32 "
                f"rounding).",
                f"Largest difference in distance from the two words of an equalised pair to a neutral word: "
                f"{check.largest_distance_gap:.1e}.",
            ]
        )
    )
    rows = [("Direct bias, professions", f"{before.direct_bias:.4f}", f"{after.direct_bias:.4f}")]
    rows += [
        (
            f"WEAT d, {name}",
            f"{result_before.effect_size:.2f} (p {result_before.p_value:.3f})",
            f"{after.weat[name].effect_size:.2f} (p {after.weat[name].p_value:.3f})",
        )
        for name, result_before in before.weat.items()
    ]
    rows += [
        (
            f"Best she–he profession pair: {b.female} – {b.male}",
            f"{b.score:.3f}",
            f"{a.female} – {a.male}: {a.score:.3f}",
        )
        for b, a in zip(before.analogy_pairs[:1], after.analogy_pairs[:1])
    ]
    rows += [
        (question, answer, answer_after)
        for (question, answer), (_, answer_after) in zip(before.stereotypes, after.stereotypes)
    ]
    st.markdown("**Bias** (should shrink)")
    st.dataframe(pd.DataFrame(rows, columns=["measure", "before", "after"]), hide_index=True, key="remove:report")
    st.markdown("**What should survive**")
    kept = [(question, answer, answer_after) for (question, answer), (_, answer_after) in zip(before.kept, after.kept)]
    st.dataframe(pd.DataFrame(kept, columns=["analogy", "before", "after"]), hide_index=True, key="remove:kept")
    leaning = debias.professions_by_lean(VOCABULARY, G)
    professions = list(leaning)
    shown = professions[:8] + professions[-8:]
    specific = [w for w in ("she", "he", "mother", "father", "queen", "king", "actress", "actor") if w in VOCABULARY]
    left, right = st.columns(2)
    with left:
        show_figure(
            gender_bars(
                {w: leaning[w] for w in shown},
                "Professions: before and after",
                debias.projections(result.vocabulary, shown, G),
            ),
            key="remove:professions",
        )
    with right:
        show_figure(
            gender_bars(
                debias.projections(VOCABULARY, specific, G),
                "Gender-specific words: kept",
                debias.projections(result.vocabulary, specific, G),
            ),
            key="remove:specific",
        )
    with st.expander("What to notice", expanded=True):
        names = before.weat.get("career vs family (names)")
        lines = [
            "The professions' cosines with g drop to zero, and the direct bias with them; gendered words keep "
            "their side of g (equalised pairs move to ± the same value)."
        ]
        if names is not None and "career vs family (names)" in after.weat:
            lines.append(
                f"WEAT on names falls only from {names.effect_size:.2f} to "
                f"{after.weat['career vs family (names)'].effect_size:.2f}: removing one direction hides "
                "bias from that direction's measures, but the neighbourhoods that carry it remain "
                "(Gonen & Goldberg 2019, 'Lipstick on a pig')."
            )
        unchanged = sum(answer == answer_after for _, answer, answer_after in kept)
        lines.append(
            f"{unchanged} of {len(kept)} analogies that should survive keep their answer: the gender-specific "
            "words were left alone, but their neutralised neighbours moved."
        )
        st.markdown(bullet_list(lines))


@st.fragment
def removal_section():
    st.header("Remove it, step by step")
    neutralise_part()
    equalise_part()
    whole_vocabulary_part()


playground_section()
direction_section()
bias_section()
removal_section()
