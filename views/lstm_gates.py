"""LSTM gate inspector: the cell's equations, a character LSTM trained live, every gate of every
character of a string the student types, sampling with a temperature, and the LSTM against a GRU
and a SimpleRNN on a long-range task. Each section is a fragment."""

import numpy as np
import streamlit as st

from core.charts.sequences import (
    cell_diagram,
    correlation_bars,
    gate_heatmaps,
    loss_against_guessing,
    next_character_heatmap,
    unit_trace,
)
from core.charts.training import metric_curves
from core.engine.text import markdown_literal
from core.lessons import lesson
from core.lessons.lstm_gates import lstm
from core.shared import recurrent
from core.ui.figures import show_figure, show_run_figure
from core.ui.layout import bullet_list, lesson_header
from core.ui.live import run_section, trained_snapshot
from core.ui.projector import projector_enabled
from core.ui.recurrent import draw_recurrent_race

DEFAULT_TEXT = {
    lstm.NAMES: ".mary.john.elizabeth.",
    lstm.BRACKETS: "((-()-((()-)))-(()(((-)))-))",
    lstm.RECALL: "abcdabccbaddcab",
    lstm.ADDING: "12+345+678901",
}

LESSON = lesson("lstm_gates")
lesson_header(
    LESSON,
    "An LSTM reads a string one character at a time and carries a **cell state** from step to step. "
    "Three gates decide, at every step, how much of the old cell to keep, how much new information to write "
    "and how much of the cell to show. Train one live, then open it up: every gate, for every character of "
    "a string you type.",
)


def cell_section():
    st.header("The cell, explained")
    left, right = st.columns([3, 2])
    with left:
        st.markdown(
            "At step t the cell reads the character xₜ and its own previous output hₜ₋₁. From them it computes "
            "four things for every unit: the **forget gate** f (how much of the old cell cₜ₋₁ to keep), the "
            "**input gate** i (how much of the new **candidate** g to write) and the **output gate** o (how much of "
            "the cell to show as hₜ). Gates are sigmoids, between 0 (closed) and 1 (open). The cell is updated by "
            "adding, not by multiplying through a squashing function: that is why its memory, and its gradient, "
            "can last many steps."
        )
    with right:
        size = r"\large " if projector_enabled() else ""
        st.latex(
            size + r"\begin{aligned} z &= x_t W + h_{t-1} U + b \\ i &= \sigma(z_i),\; f = \sigma(z_f) \\ "
            r"o &= \sigma(z_o),\; g = \tanh(z_g) \\ c_t &= f \odot c_{t-1} + i \odot g \\ "
            r"h_t &= o \odot \tanh(c_t) \end{aligned}"
        )
    st.caption(
        "Keras computes these inside its LSTM layer and returns only h. This page recomputes every gate from the "
        "layer's weights (kernel W, recurrent_kernel U, bias b); the tests check it reproduces Keras' own states."
    )


def draw_training(view) -> None:
    shot = view.snapshot
    baseline = np.log(len(shot.outputs))
    last = view.history[-1] if view.history else None
    lines = [
        shot.about,
        f"Before training the held-out loss is {shot.initial_loss:.3f} per character, against "
        f"ln({len(shot.outputs)}) = {baseline:.3f} for a uniform guess.",
    ]
    if last is not None:
        lines.append(
            f"After epoch {int(last['epoch'])}: loss {last['val_loss']:.3f} per character on held-out strings, "
            f"{last['val_accuracy']:.1%} of characters right."
        )
    st.markdown(bullet_list(lines))
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "train:loss",
            lambda view: loss_against_guessing(view.history, np.log(len(view.snapshot.outputs)), "Loss per character"),
        )
    with right:
        show_run_figure(
            view,
            "train:accuracy",
            lambda view: metric_curves(
                view.history, ("accuracy", "val_accuracy"), "Characters right: training and held out (val)"
            ),
        )
    if shot.samples is not None:
        st.markdown(
            f"**Names it makes up after epoch {shot.epoch}** (temperature 0.8): "
            + ", ".join(f"`{name}`" for name in shot.samples)
        )
    else:
        example = shot.example
        st.markdown(f"**A held-out string after epoch {shot.epoch}**")
        st.dataframe(
            {
                "step": list(range(len(example["input"]))),
                "reads": example["input"],
                "right answer": example["target"],
                "the network says": example["model"],
            },
            hide_index=True,
            height=220,
        )


@st.fragment
def training_section():
    st.header("Train a character model live")
    st.markdown(
        "Choose a task. **Names** is a language model: after each character it guesses the next one. The other "
        "tasks are small puzzles whose answers need memory, so the gates have something clear to do."
    )
    run_section(
        LESSON.slug,
        lstm.TRAIN_BOX,
        lstm.train_task,
        lambda view: draw_training(view),
        waiting="The network appears once the task is made and its weights are drawn.",
    )
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- The loss starts at the dashed line: an untrained network's guess is close to uniform, ln(classes) nats "
            "per character.\n"
            "- On **names** the made-up names turn from random letters into pronounceable names within a few epochs.\n"
            "- **Bracket depth** and **recall** are learned almost perfectly; then open the inspector below to see "
            "which "
            "units count and which remember.\n"
            "- Without gradient clipping and with a high learning rate, a recurrent network's loss can jump."
        )


@st.fragment
def inspector_section():
    st.header("The inspector")
    job, shot = trained_snapshot(lstm.TRAIN_RUN)
    if shot is None:
        st.caption("Train a network above (at least one epoch): then type a string here and see every gate.")
        return
    task = lstm.task_of(job.task.config)
    weights = shot.weights
    st.markdown(
        f"The **{task.name}** network after epoch {shot.epoch}, {weights.units} units. Type a string "
        f"(characters it knows: `{' '.join(task.inputs)}`)."
    )
    text = st.text_input("Your string", value=DEFAULT_TEXT[task.name], key=f"lstm_gates:text:{task.name}")
    try:
        x, notes = lstm.encode(task, text)
    except ValueError as error:
        st.error(markdown_literal(error, None), icon=":material/edit_off:")
        return
    for note in notes:
        st.caption(markdown_literal(note, None))
    chars = list(text.lower() if task.name == lstm.NAMES else text)
    gates = lstm.run_cell(x, weights.kernel, weights.recurrent_kernel, weights.bias)
    outputs = lstm.probabilities(weights, gates)

    options = list(lstm.PROPERTIES)
    prop = st.selectbox(
        "Find units whose cell state tracks",
        options,
        index=options.index(lstm.NATURAL_PROPERTY[task.name]),
        key=f"lstm_gates:property:{task.name}",
    )
    target = lstm.PROPERTIES[prop](chars)
    correlations = lstm.unit_correlations(gates["cell state c"], target)
    best = int(np.argmax(np.abs(correlations)))
    left, right = st.columns(2)
    step = left.select_slider(
        "Character",
        options=list(range(len(chars))),
        value=len(chars) - 1,
        format_func=lambda t: f"{t}: '{chars[t]}'",
        key=f"lstm_gates:step:{len(chars)}",
    )
    unit = right.number_input(
        "Unit",
        0,
        weights.units - 1,
        best,
        key=f"lstm_gates:unit:{task.name}:{weights.units}",
        help="Starts at the unit whose cell state tracks the property best.",
    )
    previous_c = gates["cell state c"][step - 1, unit] if step else 0.0
    values = {
        "c_prev": previous_c,
        "f": gates["forget gate f"][step, unit],
        "i": gates["input gate i"][step, unit],
        "g": gates["candidate g"][step, unit],
        "o": gates["output gate o"][step, unit],
        "c": gates["cell state c"][step, unit],
        "h": gates["hidden state h"][step, unit],
        "char": chars[step],
    }
    top = int(np.argmax(outputs[step]))
    show_figure(
        cell_diagram(
            values,
            f"Unit {unit} at step {step} (reading '{chars[step]}'): "
            f"c = {values['f']:.3f} × {values['c_prev']:+.3f} + {values['i']:.3f} × "
            f"{values['g']:+.3f} = {values['c']:+.3f}",
        ),
        key="inspect:cell",
    )
    st.caption(
        f"After '{markdown_literal(chars[step])}' the network's answer is '{markdown_literal(task.outputs[top])}' "
        f"({outputs[step, top]:.0%})."
    )
    show_figure(
        gate_heatmaps(gates, chars, "Every gate and state, every unit (rows), every character (columns)", step),
        key="inspect:heatmaps",
    )
    show_figure(unit_trace(gates, unit, chars, f"Unit {unit} along your string"), key="inspect:trace")
    if np.ptp(target) == 0:
        st.info(
            f"The {prop} does not change along your string, so no unit can be matched to it: type a string where it "
            "does.",
            icon=":material/info:",
        )
        return
    show_figure(correlation_bars(correlations, 8, f"Units whose cell state follows the {prop}"), key="inspect:finder")
    st.caption(
        f"Unit {best}'s cell state has r = {correlations[best]:+.2f} with the {prop} over your {len(chars)} characters "
        "(Pearson correlation; ±1 would be a perfect straight-line relation)."
    )


@st.fragment
def sampling_section():
    st.header("Sampling")
    job, shot = trained_snapshot(lstm.TRAIN_RUN)
    if shot is None or shot.task != lstm.NAMES:
        st.caption("Train the **names** task above: then generate names here, one character at a time.")
        return
    task = lstm.task_of(job.task.config)
    left, middle, right = st.columns(3)
    temperature = left.slider(
        "Temperature",
        0.1,
        2.0,
        0.8,
        0.1,
        key="lstm_gates:temperature",
        help="Divides the scores before the softmax: low is cautious and repetitive, high is wild.",
    )
    prefix = middle.text_input(
        "Start with",
        value=lstm.END,
        key="lstm_gates:prefix",
        help=f"'{lstm.END}' is the start of a name; add letters to start the name yourself.",
    )
    seed = right.number_input("Seed", 0, 9999, 0, key="lstm_gates:sample_seed")
    try:
        text, distributions = lstm.sample(task, shot.weights, prefix, 30, temperature, np.random.default_rng(seed))
    except ValueError as error:
        st.error(markdown_literal(error, None), icon=":material/edit_off:")
        return
    st.markdown(f"Generated after '{markdown_literal(prefix)}': **{markdown_literal(text)}**")
    show_figure(
        next_character_heatmap(
            distributions,
            task.outputs,
            list(text),
            "The next-character distribution at each step (circle: the one drawn)",
        ),
        key="sample:distribution",
    )


@st.fragment
def compare_section():
    st.header("Compare: LSTM, GRU and SimpleRNN")
    st.markdown(
        f"The long-range task of the vanishing-gradients lesson: {recurrent.SEQUENCE_LENGTH} values of ±1, one "
        "of them marked; at the end the network must answer the marked value's sign. An LSTM, a GRU and a "
        f"SimpleRNN ({recurrent.RECURRENT_UNITS} units each) train side by side on the same batches, by SGD with "
        "momentum, so a vanishing gradient is not hidden by Adam's rescaling."
    )
    run_section(
        LESSON.slug,
        lstm.COMPARE_BOX,
        lstm.compare_task,
        lambda view: draw_recurrent_race(view),
        waiting="The networks appear once their weights are made.",
    )
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- With the mark 20 steps back the LSTM learns the task and the other two stay near chance (50 %): the "
            "gradient reaching the marked step, in the chart, tells why.\n"
            "- The LSTM starts with its forget-gate bias at 1, so its cell keeps about 73 % of itself per step; the "
            "GRU's update gate starts at bias 0 and keeps about half of its state per step.\n"
            "- Try 5 steps back, where memory is short, and raise the LSTM's forget-gate bias to see its memory reach "
            "further."
        )


cell_section()
training_section()
inspector_section()
sampling_section()
compare_section()
