"""The live view of recurrent networks racing through time (the vanishing-gradients lesson's
SimpleRNN against LSTM, the LSTM lesson's three kinds): findings, the gradient reaching each step's
input, and the loss and accuracy curves."""

from __future__ import annotations

import streamlit as st

from core import vanishing
from core.charts.layers import gradient_through_time, race_curves
from core.charts.theme import PNG, style
from core.jobs import JobView
from core.ui.layout import bullet_list


def draw_recurrent_race(view: JobView, projector: bool) -> None:
    shot = view.snapshot
    if shot is None:
        st.caption("The networks appear once their weights are made.")
        return
    kinds = shot["kinds"]
    last = view.history[-1] if view.history else None
    st.markdown(bullet_list(vanishing.time_findings(shot, last)))
    st.plotly_chart(style(gradient_through_time(shot["initial"], shot["now"], kinds, shot["distance"], shot["epoch"],
                                                "Gradient of the loss reaching each step's input"), projector),
                    key="time:gradients", config=PNG, theme=None)
    left, right = st.columns(2)
    with left:
        st.plotly_chart(style(race_curves(view.history, kinds, ("train_loss", "test_loss"),
                                          "Loss (log scale): solid training, dotted test", log_y=True), projector),
                        key="time:loss", config=PNG, theme=None)
    with right:
        st.plotly_chart(style(race_curves(view.history, kinds, ("train_accuracy", "test_accuracy"),
                                          "Accuracy: solid training, dotted test"), projector), key="time:accuracy", config=PNG, theme=None)
    st.caption(f"Gradients are averaged over {vanishing.TEST_SEQUENCES} test sequences, per sequence.")
