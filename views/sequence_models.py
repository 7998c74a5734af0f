"""Sequence models in practice: a translator from English to French trained live on sentences generated in the app,
its attention, greedy decoding against beam search, and teacher forcing seen in the model's own outputs; then a
character-level LSTM writing text, its samples epoch by epoch, and a start and temperature of the student's. Each
section is a fragment."""

import pandas as pd
import streamlit as st

from core.charts.sequences import attention_map
from core.charts.training import metric_curves
from core.charts.vision import class_bars
from core.engine.text import markdown_literal
from core.lessons import lesson
from core.lessons.sequence_models import generation, numbers, translation
from core.ui.controls import lesson_controls
from core.ui.figures import show_figure, show_run_figure
from core.ui.layout import lesson_header, what_to_notice
from core.ui.live import live_panel, run_controls, run_section, trained_snapshot

LESSON = lesson("sequence_models")
lesson_header(
    LESSON,
    "A sequence-to-sequence model reads a whole sentence in one language and writes it in another, a word at a "
    "time. Here one learns English to French live, on sentences about numbers that the app writes for it, and is "
    "tested on numbers it never saw. Then a character-level LSTM learns to write like its text, a character at a "
    "time, its samples improving epoch by epoch. Trigger-word detection is still to come on this page.",
)
ACCURACY = {"val_word_accuracy": "words", "val_exact": "sentences", "val_forced_accuracy": "words, forced"}


def corpus_of(config) -> numbers.ParallelCorpus:
    return numbers.parallel_corpus(int(config["sentences"]), int(config["seed"]))


@st.fragment
def corpus_section():
    st.header("The sentences")
    st.markdown(
        f"Every number from 0 to {numbers.LARGEST} is written out in English and in French by the `num2words` "
        f"package, alone and inside {len(numbers.TEMPLATES) - 1} kinds of sentence with {len(numbers.NOUNS)} nouns "
        f"and {len(numbers.PLACES)} places. French asks for agreements the model must learn: 'une' before a "
        "feminine noun (also at the end of a number: 'vingt et une pommes'), a singular noun after 'zéro', and 'le' "
        "or 'la'. A hundred numbers are held out: no training sentence has them, so translating them means "
        "composing French from parts."
    )
    corpus = numbers.parallel_corpus(12000, 0)
    shown = [numbers.sentence_pair(t, n, noun, place) for t, n, noun, place in numbers.SHOWCASE]
    st.dataframe(
        pd.DataFrame(
            {"English": [p.english for p in shown], "French": [numbers.french_text(p.french.split()) for p in shown]}
        ),
        hide_index=True,
    )
    st.caption(
        f"With the default settings: {len(corpus.train):,} training sentences, {len(corpus.held_out):,} held out; "
        f"{len(corpus.english) - 3} English words and {len(corpus.french) - 3} French words (a hyphen counts as a "
        "word, so that 'quatre-vingt-dix' is written from its parts)."
    )


def examples_table(shot) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "right": ["✓" if a == b else "✗" for a, b in zip(shot.translations, shot.references)],
            "English (number never trained on)": [" ".join(words) for words in shot.english],
            "the model writes": [numbers.french_text(words) for words in shot.translations],
            "reference": [numbers.french_text(words) for words in shot.references],
        }
    )


def draw_translation(view, example: int) -> None:
    shot = view.snapshot
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "translation:accuracy",
            lambda: metric_curves(
                view.history,
                tuple(ACCURACY),
                "Held out: words and whole sentences right<br>(greedy; forced: teacher forcing)",
                labels=ACCURACY,
                reference=(translation.TARGET, f"{translation.TARGET:.0%}"),
            ),
        )
    with right:
        show_run_figure(
            view,
            "translation:loss",
            lambda: metric_curves(
                view.history,
                ("loss", "val_loss"),
                "Loss per French word (teacher forcing)",
                labels={"loss": "training", "val_loss": "held out"},
            ),
        )
    st.markdown(f"**The held-out examples after epoch {shot.epoch}**")
    table = examples_table(shot)
    widths = {name: st.column_config.TextColumn(width=50 if name == "right" else 290) for name in table.columns}
    st.dataframe(table, hide_index=True, column_config=widths)
    index = min(example, len(shot.examples) - 1)
    english, written = list(shot.english[index]), [*shot.translations[index], numbers.END]
    if not shot.has_attention:
        st.caption("This run has no attention, so there is no map to draw: the decoder sees only the last state.")
        return
    show_run_figure(
        view,
        "translation:map",
        lambda: attention_map(
            shot.attention[index],
            english,
            written,
            f"Where each French word looked, after epoch {shot.epoch}",
            unit="word",
        ),
        choices=index,
        snapshot_only=True,
    )


@st.fragment
def translation_section():
    st.header("A translator, trained live")
    st.markdown(
        "A GRU **encoder** reads the English words; its last state starts a GRU **decoder**, which writes French a "
        "word at a time, each from the words written so far. With **attention**, each decoder step also weighs every "
        "English word's encoder state and reads their weighted average. Every epoch the translator writes the held-out "
        "sentences on its own, and each word is checked against the reference in its place."
    )
    example = st.selectbox(
        "Attention map of held-out example",
        range(translation.EXAMPLES),
        format_func=lambda i: f"example {i + 1}",
        key="sequence_models:example",
    )
    config = run_section(
        LESSON.slug,
        translation.BOX,
        translation.task,
        lambda view: draw_translation(view, example),
        waiting="The translator appears once the sentences are written and its weights are drawn (a few seconds).",
    )
    job, _ = trained_snapshot(translation.RUN)
    history = job.view().history if job is not None else []
    what_to_notice(
        translation.findings(history, config["attention"]),
        "Press Train: the curves, the examples and the attention map appear after the first epoch.",
    )


@st.cache_resource(max_entries=4, show_spinner=False)
def translator_for(job_id: str, epoch: int, _config, _shot) -> translation.Translator:
    return translation.Translator(
        corpus_of(_config), int(_config["units"]), _config["attention"], _shot.trainable, _shot.non_trainable
    )


def trained_translator(waiting: str):
    """The translator of this session's run at its latest snapshot, with the run's snapshot and settings; None
    (and `waiting` said) before its first epoch."""
    job, shot = trained_snapshot(translation.RUN)
    if shot is None:
        st.caption(waiting)
        return None
    return translator_for(job.id, shot.epoch, job.task.config, shot), shot, job.task.config


@st.fragment
def your_phrase_section():
    st.header("Your own phrase: greedy or beam search")
    st.markdown(
        "**Greedy** decoding takes the likeliest word at each step. **Beam search** keeps the *width* likeliest "
        "beginnings at each step and extends each of them, so a word that looked second best can still win the "
        "sentence. A translation's score is the sum of the log probabilities of its words (and of its end): closer "
        "to 0 is likelier."
    )
    trained = trained_translator("Train the translator above (at least one epoch): then type an English phrase here.")
    if trained is None:
        return
    translator, shot, config = trained
    corpus = translator.corpus
    left, right = st.columns([3, 1])
    text = left.text_input(
        "English phrase", value="there are eighty one apples in the kitchen", key="sequence_models:typed"
    )
    width = right.slider("Beam width", 1, translation.MAX_BEAM, 3, key="sequence_models:width")
    try:
        words, row = numbers.encode_phrase(text, corpus)
    except numbers.UnknownWords as problem:
        st.warning(markdown_literal(problem, None), icon=":material/edit_note:")
        return
    greedy = translator.greedy(row[None])[0]
    beams = translation.beam_search(translator, row, width)
    greedy_score = translator.score(row, greedy)
    best = numbers.french_text(beams[0].words)
    st.markdown(
        f"After epoch {shot.epoch}, greedy: **{markdown_literal(numbers.french_text(greedy))}** (score "
        f"{greedy_score:.3f}); beam search of width {width}: **{markdown_literal(best)}** (score {beams[0].score:.3f})."
    )
    st.dataframe(
        pd.DataFrame(
            {
                "beam": range(1, len(beams) + 1),
                "French": [numbers.french_text(b.words) for b in beams],
                "score (summed log probability)": [round(b.score, 4) for b in beams],
                "finished": ["yes" if b.finished else "no (longest sentence reached)" for b in beams],
            }
        ),
        hide_index=True,
    )
    if config["attention"] != translation.NONE:
        show_figure(
            attention_map(
                translator.attention(row, beams[0].words),
                words,
                [*beams[0].words, numbers.END],
                "Where each word of the best beam looked",
                unit="word",
            ),
            key="sequence_models:your_map",
        )


@st.fragment
def teacher_forcing_section():
    st.header("Teacher forcing, in the model's own outputs")
    st.markdown(
        "In training the decoder always reads the **right** French so far, whatever it would have written: one pass "
        "trains every step, and an early mistake does not spoil the rest of the sentence. Translating, there is no "
        "right French to read, so it reads **its own** words. Below, one held-out sentence decoded both ways: where "
        "the columns part, a mistake is carried forward."
    )
    trained = trained_translator("Train the translator above (at least one epoch) to see it decode both ways.")
    if trained is None:
        return
    translator, shot, _ = trained
    corpus = translator.corpus
    index = st.selectbox(
        "Held-out sentence",
        shot.examples,
        format_func=lambda i: corpus.pairs[i].english,
        key="sequence_models:forced_example",
    )
    steps = translation.teacher_forcing_steps(translator, index)
    st.dataframe(
        pd.DataFrame(
            {
                "step": range(1, len(steps) + 1),
                "reference word": [s.reference for s in steps],
                "forced: reads": [s.forced_read for s in steps],
                "forced: writes": [s.forced_guess for s in steps],
                "free: reads": [s.free_read for s in steps],
                "free: writes": [s.free_guess for s in steps],
            }
        ),
        hide_index=True,
    )
    forced_right = sum(s.forced_guess == s.reference for s in steps)
    free_right = sum(s.free_guess == s.reference for s in steps)
    st.caption(
        f"After epoch {shot.epoch}: with teacher forcing {forced_right} of {len(steps)} words are right, reading its "
        f"own words {free_right} of {len(steps)}."
    )


def draw_generation(view) -> None:
    shot = view.snapshot
    text = generation.character_text(shot.text)
    show_run_figure(
        view,
        "generation:perplexity",
        lambda: metric_curves(
            view.history,
            ("perplexity", "val_perplexity"),
            "Perplexity per character (lower is better)",
            labels={"perplexity": "training", "val_perplexity": "held out"},
            reference=(text.unigram_perplexity, "unigram model"),
        ),
    )
    if not shot.samples:
        return
    st.markdown(
        f"**Its samples**, each {generation.SAMPLE_LENGTH} characters after “{generation.PRIMERS[shot.text]}” at "
        f"temperature {generation.SAMPLE_TEMPERATURE}: the latest three and the first."
    )
    shown = shot.samples[:0:-1][:3] + shot.samples[:1]
    for epoch, sample in shown:
        share = generation.real_word_share(sample, text)
        st.caption(f"After epoch {epoch}: {share:.0%} of its words are spelled as in the text")
        st.code(generation.PRIMERS[shot.text] + sample, language=None, wrap_lines=True)


@st.fragment
def generation_section():
    st.header("Writing text, a character at a time")
    st.markdown(
        "An LSTM reads text one character at a time and, after each, gives the probability of every character that "
        "could come next. Trained to make the real next character likely, it can then **write**: draw a character "
        "from those probabilities, feed it back, draw again. After every epoch it writes a sample from the same "
        "start, so you can watch spelling, then words, then phrases appear (Karpathy's char-rnn). Perplexity is "
        "how many characters it is as unsure as choosing among: the **unigram** model, which only knows how common "
        "each character is, sets the level to beat."
    )
    config = lesson_controls(LESSON.slug, generation.BOX)
    try:
        generation.read_text(config["text"])
    except generation.MissingText as missing:
        st.warning(markdown_literal(missing, None), icon=":material/menu_book:")
        return
    job = run_controls(generation.task(config), generation.BOX)
    live_panel(job, draw_generation, waiting="The curve and the first sample appear after the first epoch.")
    shot = job.view().snapshot if job is not None else None
    what_to_notice(
        generation.findings(job.view().history if job else [], shot),
        "Press Train: the perplexity and the samples appear after the first epoch.",
    )


@st.cache_data(max_entries=16, show_spinner=False)
def written(
    job_id: str, epoch: int, primer: str, length: int, temperature: float, seed: int, _shot
) -> generation.Written:
    text = generation.character_text(_shot.text)
    return generation.write(text, _shot.units, _shot.weights, primer, length, temperature, seed)


@st.fragment
def your_primer_section():
    st.header("Your own start and temperature")
    st.markdown(
        "Type how the text should start; the model continues it. **Temperature** divides the model's scores before "
        "they become probabilities: near 0 it always takes the likeliest character (and soon repeats itself), at 1 "
        "it draws from its own probabilities, above 1 it takes more risks."
    )
    job, shot = trained_snapshot(generation.RUN)
    if shot is None:
        st.caption("Train the text generator above (at least one epoch): then start it off here.")
        return
    text = generation.character_text(shot.text)
    primer = st.text_input("Start", value=generation.PRIMERS[shot.text], key="sequence_models:primer")
    left, middle, right = st.columns(3)
    temperature = left.slider("Temperature", 0.0, 2.0, 0.7, 0.05, key="sequence_models:temperature")
    length = middle.slider("Characters to write", 20, 400, 200, 10, key="sequence_models:length")
    seed = right.number_input("Draw seed", 0, 9999, 0, key="sequence_models:draw_seed")
    try:
        result = written(job.id, shot.epoch, primer, length, temperature, int(seed), shot)
    except generation.BadPrimer as problem:
        st.warning(markdown_literal(problem, None), icon=":material/edit_note:")
        return
    st.markdown(f"After epoch {shot.epoch}, at temperature {temperature:.2f}:")
    st.text(primer + result.text)
    step = st.slider("Look at the choice of character", 1, len(result.text), 1, key="sequence_models:step")
    labels, chances = generation.top_choices(result.probabilities[step - 1], text)
    drawn = generation.shown_character(result.text[step - 1])
    show_figure(
        class_bars(
            chances,
            labels,
            f"Character {step}: the ten likeliest at temperature {temperature:.2f}; drawn: '{drawn}'",
            "probability",
            highlight=labels.index(drawn) if drawn in labels else None,
        ),
        key="sequence_models:choice",
    )
    before = (primer + result.text[: step - 1])[-40:]
    st.caption(
        f"What it had read: “…{markdown_literal(before)}”. The bars are the ten likeliest of "
        f"{len(text.characters)} characters; all of them together sum to "
        f"{result.probabilities[step - 1].sum():.3f}."
    )


corpus_section()
translation_section()
your_phrase_section()
teacher_forcing_section()
generation_section()
your_primer_section()
