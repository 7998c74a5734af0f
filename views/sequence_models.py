"""Sequence models in practice: a translator from English to French trained live on sentences generated in the app,
its attention, greedy decoding against beam search, and teacher forcing seen in the model's own outputs; a
character-level LSTM writing text, its samples epoch by epoch, and a start and temperature of the student's; a
trigger-word detector trained on clips it speaks itself, and run on the student's own recording. Each section is a
fragment."""

import pandas as pd
import streamlit as st

from core.charts.sequences import attention_map, spectrogram_with_output
from core.charts.training import metric_curves
from core.charts.vision import class_bars
from core.engine.text import markdown_literal
from core.lessons import lesson
from core.lessons.sequence_models import generation, numbers, speech, translation, trigger
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
    "time, its samples improving epoch by epoch. Last, a detector learns to hear one spoken word in noisy clips.",
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
            lambda view: metric_curves(
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
            lambda view: metric_curves(
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
    if not shot.has_attention:
        st.caption("This run has no attention, so there is no map to draw: the decoder sees only the last state.")
        return
    show_run_figure(
        view,
        "translation:map",
        lambda view: attention_map(
            view.snapshot.attention[index],
            list(view.snapshot.english[index]),
            [*view.snapshot.translations[index], numbers.END],
            f"Where each French word looked, after epoch {view.snapshot.epoch}",
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
        lambda view: metric_curves(
            view.history,
            ("perplexity", "val_perplexity"),
            "Perplexity per character (lower is better)",
            labels={"perplexity": "training", "val_perplexity": "held out"},
            reference=(generation.character_text(view.snapshot.text).unigram_perplexity, "unigram model"),
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


def clip_figure(spectrum, chances, words, trigger_ends, title):
    frames = len(spectrum)
    return spectrogram_with_output(
        trigger.frame_times(frames),
        spectrum,
        trigger.step_times(frames),
        chances,
        words,
        trigger.label_windows(trigger_ends, frames),
        title,
    )


EXAMPLE_KINDS = (
    f"“{trigger.TRIGGER}” twice",
    f"“{trigger.TRIGGER}” among other words",
    "a word that sounds alike, no trigger",
    "noise only",
)


def draw_trigger(view, data: trigger.TriggerData, example: int) -> None:
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "trigger:f1",
            lambda view: metric_curves(
                view.history,
                ("val_f1", "val_step_accuracy"),
                "Held-out clips: detection F1 and steps right",
                labels={"val_f1": "detection F1", "val_step_accuracy": "steps right"},
            ),
        )
    with right:
        show_run_figure(
            view,
            "trigger:loss",
            lambda view: metric_curves(
                view.history, ("loss", "val_loss"), "Loss per step", labels={"loss": "training", "val_loss": "held out"}
            ),
        )
    index = min(example, len(data.examples) - 1)
    clip = data.test_clips[data.examples[index]]
    show_run_figure(
        view,
        "trigger:clip",
        lambda view: clip_figure(
            data.x_test[data.examples[index]],
            view.snapshot.examples[index],
            clip.words,
            clip.trigger_ends,
            f"A held-out clip ({EXAMPLE_KINDS[index]}): what the detector hears and says, after epoch "
            f"{view.snapshot.epoch}",
        ),
        choices=index,
        snapshot_only=True,
    )


@st.cache_resource(max_entries=2, show_spinner="Speaking the words and making the clips (a few seconds, once)…")
def clips_for(clips: int, seed: int) -> trigger.TriggerData:
    return trigger.trigger_data(clips, seed)


@st.fragment
def trigger_section():
    st.header("Hearing a trigger word")
    st.markdown(
        f"A voice assistant listens all the time for one word. Here the word is **“{trigger.TRIGGER}”**. The app "
        "makes its own recordings: background noise with the word and other words (some sound alike: "
        f"{', '.join(trigger.OTHER_WORDS[:3])}) spoken by eSpeak in {len(trigger.VOICES)} voices at random places. "
        "Each clip becomes a **spectrogram** (how loud each pitch band is, every 10 ms). A Conv1D reads it in steps "
        f"of {trigger.STRIDE * 10} ms, a GRU runs over the steps, and at each step the model says whether the "
        f"trigger has just ended: its target is 1 for the {trigger.LABEL_S} s after each “{trigger.TRIGGER}” "
        "(green), 0 elsewhere."
    )
    try:
        bank = trigger.word_bank()
    except speech.MissingSpeech as missing:
        st.warning(markdown_literal(missing, None), icon=":material/record_voice_over:")
        return
    st.caption(f"“{trigger.TRIGGER}” in two of its voices:")
    left, right = st.columns(2)
    left.audio(bank[trigger.TRIGGER][0], sample_rate=trigger.RATE)
    right.audio(bank[trigger.TRIGGER][-1], sample_rate=trigger.RATE)
    example = st.selectbox(
        "Held-out clip to look at",
        range(len(EXAMPLE_KINDS)),
        format_func=lambda i: EXAMPLE_KINDS[i],
        key="sequence_models:trigger_example",
    )
    config = lesson_controls(LESSON.slug, trigger.BOX)
    job = run_controls(trigger.task(config), trigger.BOX)
    run_config = job.task.config if job is not None else config
    data = clips_for(int(run_config["clips"]), int(run_config["seed"]))
    live_panel(
        job,
        lambda view: draw_trigger(view, data, example),
        waiting="The curves and the first clip appear after the first epoch (the clips are made first).",
    )
    if job is not None:
        st.caption(f"Listen to the held-out clip ({EXAMPLE_KINDS[example]}):")
        st.audio(data.test_clips[data.examples[min(example, len(data.examples) - 1)]].audio, sample_rate=trigger.RATE)
    what_to_notice(
        trigger.findings(job.view().history if job is not None else [], data),
        "Press Train: the curves and a held-out clip with the detector's output appear after the first epoch.",
    )


@st.fragment
def your_clip_section():
    st.header("Your own voice")
    st.markdown(
        f"Record a few seconds saying “{trigger.TRIGGER}” (and other words), or upload a WAV file. The detector "
        "trained above listens to it. It learned from one synthetic voice engine, so a real voice in a real room is "
        "a harder test than its held-out clips."
    )
    job, shot = trained_snapshot(trigger.RUN)
    if shot is None:
        st.caption("Train the detector above (at least one epoch): then record or upload a clip here.")
        return
    left, right = st.columns(2)
    recorded = left.audio_input("Record a clip", key="sequence_models:recorded")
    uploaded = right.file_uploader("…or upload a WAV file", type=["wav"], key="sequence_models:uploaded")
    source = uploaded if uploaded is not None else recorded
    if source is None:
        return
    try:
        heard = trigger.read_wav(source.getvalue())
    except trigger.BadAudio as problem:
        st.warning(markdown_literal(problem, None), icon=":material/mic_off:")
        return
    for note in heard.notes:
        st.caption(note)
    config = job.task.config
    data = clips_for(int(config["clips"]), int(config["seed"]))
    spectrum, chances = trigger.listen(heard, data, shot.units, shot.weights)
    found = trigger.detections(chances, len(spectrum))
    st.markdown(
        f"After epoch {shot.epoch} the detector fired {len(found)} time{'s' if len(found) != 1 else ''}"
        + (": at " + ", ".join(f"{t:.2f} s" for t in found) + "." if found else ".")
    )
    show_figure(
        clip_figure(spectrum, chances, (), (), "Your clip: what the detector hears and says"), key="trigger:yours"
    )


corpus_section()
translation_section()
your_phrase_section()
teacher_forcing_section()
generation_section()
your_primer_section()
trigger_section()
your_clip_section()
