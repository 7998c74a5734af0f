"""Attention heatmaps: a date translator with attention trained live, its attention map redrawn as it
learns, and dates the student types. (Self-attention and the with/without comparison are still to
come; the page says so.)"""

import numpy as np
import streamlit as st

from core import attention
from core.charts.sequences import attention_map
from core.charts.theme import style
from core.charts.training import metric_curves
from core.lessons import lesson
from core.ui.layout import lesson_header
from core.ui.live import attached_job, run_section
from core.ui.projector import projector_enabled

PNG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}

LESSON = lesson("attention")
lesson_header(LESSON, "To translate, a network must know which part of the input matters for the word it is writing now. "
              "**Attention** lets it look: at every output step it weighs every input position, and those weights can "
              "be drawn. Train a translator live and watch its attention map sharpen.")


def draw_dates(view, example: int, projector: bool) -> None:
    shot = view.snapshot
    if shot is None:
        st.caption("The translator appears once the dates are generated and its weights are drawn.")
        return
    last = view.history[-1] if view.history else None
    if last is not None:
        st.markdown(f"- After epoch {int(last['epoch'])}: **{last['val_exact_match']:.1%}** of "
                    f"{attention.HELD_OUT:,} held-out dates are translated exactly right "
                    f"({last['val_accuracy']:.1%} of their characters).")
    left, right = st.columns(2)
    with left:
        st.plotly_chart(style(metric_curves(view.history, ("accuracy", "val_accuracy", "val_exact_match"),
                                            "Characters right (training, held out) and whole dates right (held out)"),
                              projector), key="dates:accuracy", config=PNG)
    with right:
        st.plotly_chart(style(metric_curves(view.history, ("loss", "val_loss"), "Loss per output character"), projector),
                        key="dates:loss", config=PNG)
    index = min(example, len(shot["examples"]) - 1)
    human, iso, pattern = shot["examples"][index]
    answer = shot["translations"][index]
    verdict = "right" if answer == iso else f"wrong: the answer is {iso}"
    st.plotly_chart(style(attention_map(shot["attention"][index][:, :len(human)], list(human), list(answer),
                                        f"'{human}' → '{answer}' ({verdict}), after epoch {shot['epoch']}"), projector),
                    key="dates:map", config=PNG)


@st.fragment
def dates_section():
    st.header("Reading dates with attention")
    st.markdown(f"Dates written {len(attention.FORMATS)} ways ('tuesday 10 march 2015', '25th of june 2009', "
                "'03/05/1979', …), generated offline with faker and babel, are translated to ISO dates (2015-03-10). "
                "A bidirectional LSTM reads the date; for each of the 10 output characters, attention weighs every input "
                "character and a decoder LSTM writes the character.")
    projector = projector_enabled()
    example = st.selectbox("Attention map of the held-out date written as", range(len(attention.EXAMPLE_FORMATS)),
                           format_func=lambda i: attention.EXAMPLE_FORMATS[i], key="attention:example")
    run_section(LESSON.slug, "Translator", attention.DATE_CONTROLS, attention.DATES_RUN, attention.dates_task,
                lambda view: draw_dates(view, example, projector))
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- At first the attention is spread evenly: the model does not yet know where to look, and every date it "
            "writes is the same guess.\n"
            "- Within a few epochs the map sharpens: the year's digits look at the year, the month's at the month name "
            "or number, the day's at the day. For '25th of june 2009' the order of the looks differs from the order "
            "of the writing: attention is not a diagonal copy.\n"
            "- The weekday ('tuesday') gets almost no attention: it is not needed.")


@st.cache_resource(max_entries=2, show_spinner=False)
def translator_for(job_id: str, epoch: int, kind: str, _weights) -> attention.Translator:
    return attention.Translator(kind, _weights)


@st.fragment
def your_date_section():
    st.subheader("Your own date")
    projector = projector_enabled()
    job = attached_job(attention.DATES_RUN)
    shot = job.view().snapshot if job is not None else None
    if shot is None or not shot["epoch"]:
        st.caption("Train the translator above (at least one epoch): then type a date here.")
        return
    text = st.text_input("A date", value="tuesday 10 march 2015", key="attention:your_date")
    try:
        translator = translator_for(job.id, shot["epoch"], job.task.config["attention"], shot["weights"])
        answer, weights = translator.translate(text)
    except ValueError as error:
        st.error(str(error), icon=":material/edit_off:")
        return
    problem = attention.check_translation(text, answer)
    st.markdown(f"The model (after epoch {shot['epoch']}) writes **{answer}**."
                + (f" {problem}" if problem else " That is right."))
    st.plotly_chart(style(attention_map(weights, list(text.strip().lower()), list(answer),
                                        f"Where it looked to write {answer}"), projector), key="dates:yours", config=PNG)
    st.caption(f"Each row of the full map sums to 1 over the model's {attention.INPUT_LENGTH} input positions; the padding "
               f"after your date gets at most {max(0.0, float((1 - weights.sum(axis=1)).max())):.1%} of a row.")


def still_to_come():
    with st.container(border=True):
        st.subheader(":material/construction: Still being built in this lesson")
        st.markdown("- **Self-attention, opened up**: a tiny Transformer trained live on reversing a digit string, with "
                    "per-head attention maps and Q·Kᵀ → scale → mask → softmax shown as matrices.\n"
                    "- **With and without attention**: the same date task without attention, accuracy against input length.")


dates_section()
your_date_section()
still_to_come()
