"""Attention heatmaps: a date translator with attention trained live, its attention map redrawn as it
learns, and dates the student types; a toy Transformer's self-attention opened up; the translator
with and without attention. Each section is a fragment with its own run."""

import streamlit as st

from core.charts.layers import race_curves
from core.charts.sequences import accuracy_by_length, attention_map, attention_step_matrices, head_maps
from core.charts.training import metric_curves
from core.engine.text import markdown_literal
from core.lessons import lesson
from core.lessons.attention import attention, selfattention
from core.ui.figures import show_figure, show_run_figure
from core.ui.layout import bullet_list, lesson_header
from core.ui.live import run_section, trained_snapshot

LESSON = lesson("attention")
lesson_header(
    LESSON,
    "To translate, a network must know which part of the input matters for the word it is writing now. "
    "**Attention** lets it look: at every output step it weighs every input position, and those weights can "
    "be drawn. Train a translator live and watch its attention map sharpen.",
)


def draw_dates(view, example: int) -> None:
    last = view.history[-1] if view.history else None
    if last is not None:
        st.markdown(
            f"- After epoch {int(last['epoch'])}: **{last['val_exact_match']:.1%}** of "
            f"{attention.HELD_OUT:,} held-out dates are translated exactly right "
            f"({last['val_accuracy']:.1%} of their characters)."
        )
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "dates:accuracy",
            lambda view: metric_curves(
                view.history,
                ("accuracy", "val_accuracy", "val_exact_match"),
                "Characters right (training, held out)<br>and whole dates right (held out)",
            ),
        )
    with right:
        show_run_figure(
            view,
            "dates:loss",
            lambda view: metric_curves(view.history, ("loss", "val_loss"), "Loss per output character"),
        )
    index = min(example, len(view.snapshot.examples) - 1)
    show_run_figure(view, "dates:map", lambda view: _date_map(view, index), choices=index, snapshot_only=True)


def _date_map(view, index: int):
    """Where the translator looked for each character of held-out date `index`."""
    shot = view.snapshot
    human, iso, _ = shot.examples[index]
    answer = shot.translations[index]
    verdict = "right" if answer == iso else f"wrong: the answer is {iso}"
    return attention_map(
        shot.attention[index][:, : len(human)],
        list(human),
        list(answer),
        f"'{human}' → '{answer}' ({verdict}), after epoch {shot.epoch}",
    )


@st.fragment
def dates_section():
    st.header("Reading dates with attention")
    st.markdown(
        f"Dates written {len(attention.FORMATS)} ways ('tuesday 10 march 2015', '25th of june 2009', "
        "'03/05/1979', …), generated offline with faker and babel, are translated to ISO dates (2015-03-10). "
        "A bidirectional LSTM reads the date; for each of the 10 output characters, attention weighs every input "
        "character and a decoder LSTM writes the character."
    )
    example = st.selectbox(
        "Attention map of the held-out date written as",
        range(len(attention.EXAMPLE_FORMATS)),
        format_func=lambda i: attention.format_example(attention.EXAMPLE_FORMATS[i]),
        key="attention:example",
    )
    run_section(
        LESSON.slug,
        attention.DATE_BOX,
        attention.dates_task,
        lambda view: draw_dates(view, example),
        waiting="The translator appears once the dates are generated and its weights are drawn.",
    )
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- At first the attention is spread evenly: the model does not yet know where to look, and every date it "
            "writes is the same guess.\n"
            "- Within a few epochs the map sharpens: the year's digits look at the year, the month's at the month name "
            "or number, the day's at the day. For '25th of june 2009' the order of the looks differs from the order "
            "of the writing: attention is not a diagonal copy.\n"
            "- The weekday ('tuesday') gets almost no attention: it is not needed."
        )


@st.cache_resource(max_entries=2, show_spinner=False)
def translator_for(job_id: str, epoch: int, kind: str, _weights) -> attention.Translator:
    return attention.Translator(kind, _weights)


@st.fragment
def your_date_section():
    st.subheader("Your own date")
    job, shot = trained_snapshot(attention.DATES_RUN)
    if shot is None:
        st.caption("Train the translator above (at least one epoch): then type a date here.")
        return
    text = st.text_input("A date", value="tuesday 10 march 2015", key="attention:your_date")
    try:
        translator = translator_for(job.id, shot.epoch, job.task.config["attention"], shot.weights)
        answer, weights = translator.translate(text)
    except ValueError as error:
        st.error(markdown_literal(error, None), icon=":material/edit_off:")
        return
    problem = attention.check_translation(text, answer)
    st.markdown(
        f"The model (after epoch {shot.epoch}) reads “{markdown_literal(text.strip().lower())}” as "
        f"**{markdown_literal(answer)}**." + (f" {markdown_literal(problem, None)}" if problem else " That is right.")
    )
    show_figure(
        attention_map(weights, list(text.strip().lower()), list(answer), f"Where it looked to write {answer}"),
        key="dates:yours",
    )
    st.caption(
        f"Each row of the full map sums to 1 over the model's {attention.INPUT_LENGTH} input positions; the padding "
        f"after your date gets at most {max(0.0, float((1 - weights.sum(axis=1)).max())):.1%} of a row."
    )


def draw_transformer(view) -> None:
    shot = view.snapshot
    last = view.history[-1] if view.history else None
    digits, output = list(shot.example), list(shot.output)
    lines = [f"A held-out string {''.join(map(str, digits))} → {''.join(map(str, output))} after epoch {shot.epoch}."]
    if last is not None:
        lines.append(f"{last['val_accuracy']:.1%} of held-out output digits are right (chance: 10 %).")
    if shot.task == "reverse":
        lines.append(
            f"The head that looks most at the mirrored position (L−1−i) gives it "
            f"{selfattention.mirror_share(shot.weights):.0%} "
            "of its attention on average."
        )
    st.markdown(bullet_list(lines))
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "toy:accuracy",
            lambda view: metric_curves(
                view.history, ("accuracy", "val_accuracy"), "Digits right: training and held out (val)"
            ),
        )
    with right:
        show_run_figure(
            view,
            "toy:heads",
            lambda view: head_maps(
                view.snapshot.weights, list(view.snapshot.example), "Each head's attention for this string"
            ),
            snapshot_only=True,
        )
    show_run_figure(
        view,
        "toy:steps",
        lambda view: attention_step_matrices(
            view.snapshot.steps, "Head 0, step by step: Q·Kᵀ, scaled by √d, masked, softmax"
        ),
        snapshot_only=True,
    )
    st.caption(
        f"Q and K are the string's embeddings times the layer's own query and key weights (d = "
        f"{shot.steps['Q'].shape[1]} "
        "per head). The softmax row is what the head map shows for head 0; the tests check it against Keras."
    )


@st.fragment
def transformer_section():
    st.header("Self-attention, opened up")
    st.markdown(
        "In self-attention every position of a sequence looks at every other position of the same sequence. A "
        f"one-layer Transformer encoder ({selfattention.HEADS} heads, learned position embeddings) learns to "
        "**reverse** a string of digits, where the right attention is obvious: output position i must look at "
        "input position L−1−i, its mirror. Or to **sort** it, where every position needs the whole string."
    )
    run_section(
        LESSON.slug,
        selfattention.TRANSFORMER_BOX,
        selfattention.transformer_task,
        lambda view: draw_transformer(view),
        waiting="The Transformer appears once the strings are made and its weights are drawn.",
    )
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- Reversing: within a few epochs one head's map becomes an anti-diagonal, each position looking at its "
            "mirror.\n"
            "- Switch on the **causal mask**: position i may only look at positions up to i, so the first half of the "
            "string cannot see its mirror. The held-out accuracy stops near 55 %: half the digits right, plus a 10 % "
            "guess for the rest.\n"
            "- Scaling by √d keeps the scores moderate, so the softmax does not saturate at the start of training."
        )


def draw_compare(view) -> None:
    shot = view.snapshot
    st.markdown(bullet_list(attention.compare_findings(view.history)))
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "compare:curves",
            lambda view: race_curves(
                view.history, (attention.WITH, attention.WITHOUT), ("exact_match",), "Held-out dates exactly right"
            ),
        )
    with right:
        if shot.by_length:
            show_run_figure(
                view,
                "compare:lengths",
                lambda view: accuracy_by_length(
                    view.snapshot.bins,
                    view.snapshot.counts,
                    view.snapshot.by_length,
                    f"By length of the written date, after epoch {view.snapshot.epoch}",
                ),
                snapshot_only=True,
            )


@st.fragment
def compare_section():
    st.header("With and without attention")
    st.markdown(
        "The same encoder and decoder, on the same dates, once with attention and once without: then the decoder "
        "gets only the encoder's final state, one fixed-size summary of the whole date, and must unpack all 10 "
        "characters from it."
    )
    run_section(
        LESSON.slug,
        attention.COMPARE_BOX,
        attention.compare_task,
        lambda view: draw_compare(view),
        waiting="The two translators appear once the dates are made.",
    )
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- Both learn dates in the end: a date is short, and its summary fits in 64 numbers. With attention the "
            "translator gets there in fewer epochs (the findings above say how many), because each output character "
            "reads the part of the input it needs directly.\n"
            "- The length chart shows each model's accuracy for short and long dates. For dates this short, the "
            "summary copes with every length once trained; for sentences hundreds "
            "of words long, one summary is not enough, which is why attention was invented for translation."
        )


dates_section()
your_date_section()
transformer_section()
compare_section()
