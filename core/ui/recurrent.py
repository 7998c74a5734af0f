"""The live view of recurrent networks racing through time (the vanishing-gradients lesson's
SimpleRNN against LSTM, the LSTM lesson's three kinds): findings, the gradient reaching each step's
input, and the loss and accuracy curves."""

from __future__ import annotations

import streamlit as st

from core.charts.layers import gradient_through_time, race_curves
from core.engine.jobs import JobView
from core.shared import recurrent
from core.ui.figures import show_run_figure
from core.ui.layout import bullet_list


def draw_recurrent_race(view: JobView) -> None:
    shot = view.snapshot
    kinds = shot.kinds
    last = view.history[-1] if view.history else None
    st.markdown(bullet_list(recurrent.time_findings(shot, last)))
    show_run_figure(
        view,
        "time:gradients",
        lambda: gradient_through_time(
            shot.initial, shot.now, kinds, shot.distance, shot.epoch, "Gradient of the loss reaching each step's input"
        ),
        snapshot_only=True,
    )
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "time:loss",
            lambda: race_curves(
                view.history,
                kinds,
                ("train_loss", "test_loss"),
                "Loss (log scale): solid training, dotted test",
                log_y=True,
            ),
        )
    with right:
        show_run_figure(
            view,
            "time:accuracy",
            lambda: race_curves(
                view.history, kinds, ("train_accuracy", "test_accuracy"), "Accuracy: solid training, dotted test"
            ),
        )
    st.caption(f"Gradients are averaged over {recurrent.TEST_SEQUENCES} test sequences, per sequence.")
