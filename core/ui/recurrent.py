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
    last = view.history[-1] if view.history else None
    st.markdown(bullet_list(recurrent.time_findings(view.snapshot, last)))
    show_run_figure(view, "time:gradients", _gradients_chart, snapshot_only=True)
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "time:loss",
            lambda view: race_curves(
                view.history,
                view.snapshot.kinds,
                ("train_loss", "test_loss"),
                "Loss (log scale): solid training, dotted test",
                log_y=True,
            ),
        )
    with right:
        show_run_figure(
            view,
            "time:accuracy",
            lambda view: race_curves(
                view.history,
                view.snapshot.kinds,
                ("train_accuracy", "test_accuracy"),
                "Accuracy: solid training, dotted test",
            ),
        )
    st.caption(f"Gradients are averaged over {recurrent.TEST_SEQUENCES} test sequences, per sequence.")


def _gradients_chart(view: JobView):
    shot = view.snapshot
    return gradient_through_time(
        shot.initial, shot.now, shot.kinds, shot.distance, shot.epoch, "Gradient of the loss reaching each step's input"
    )
