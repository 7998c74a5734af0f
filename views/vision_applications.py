"""Vision applications: a deep plain network against the same network with skip connections, trained live side by
side (residual networks). Each section is a fragment."""

import numpy as np
import pandas as pd
import streamlit as st

from core.charts.applications import residual_blocks
from core.charts.layers import gradient_norm_history, layer_profile
from core.charts.training import metric_curves
from core.lessons import lesson
from core.lessons.vision_applications import residual
from core.shared.copies import row_key
from core.ui.figures import show_figure, show_run_figure
from core.ui.layout import lesson_header, what_to_notice
from core.ui.live import run_section, trained_snapshot

LESSON = lesson("vision_applications")
lesson_header(
    LESSON,
    "The course's vision applications, trained live here. First, residual networks: why a very deep network learns "
    "at all once each pair of layers only has to add a correction to what it was given.",
)
st.info(
    "This lesson is being built section by section. Here now: **residual networks**. Coming next: transfer "
    "learning, detection with IoU and non-max suppression, face verification with the triplet loss, and neural "
    "style transfer.",
    icon=":material/construction:",
)


@st.cache_resource(show_spinner=False)
def smallest_network_table() -> pd.DataFrame:
    model = residual.build_network(1, True, False, 0)
    return pd.DataFrame(
        [(row.name, row.kind, row.output, row.parameters) for row in residual.layer_table(model)],
        columns=["layer", "kind", "output shape", "parameters"],
    )


def draw_residual(view) -> None:
    shot = view.snapshot
    names = {row_key(metric, name): name for metric in residual.METRICS for name in residual.NETWORKS}
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "residual:loss",
            lambda: metric_curves(
                view.history,
                [row_key("loss", name) for name in residual.NETWORKS],
                f"Training loss, {residual.weight_layers(shot.blocks)} layers",
                labels=names,
                log_y=True,
            ),
        )
    with right:
        show_run_figure(
            view,
            "residual:accuracy",
            lambda: metric_curves(
                view.history,
                [row_key("val_accuracy", name) for name in residual.NETWORKS],
                "Held-out accuracy",
                labels=names,
                reference=(residual.TARGET_ACCURACY, f"{residual.TARGET_ACCURACY:.0%}"),
            ),
        )
    epoch, norms = shot.profiles[-1]
    first = shot.profiles[0][1]
    show_run_figure(
        view,
        "residual:profile",
        lambda: layer_profile(
            np.concatenate([first, norms]),
            [f"{name}, at the start" for name in residual.NETWORKS]
            + [f"{name}, epoch {epoch}" for name in residual.NETWORKS],
            "How hard each block is pushed: ‖∂L/∂W‖ of its first convolution",
            "‖∂L/∂W‖",
            x_title="block (1 is nearest the input)",
        ),
        snapshot_only=True,
    )
    if len(shot.profiles) > 1:
        left, right = st.columns(2)
        for column, index, name in zip((left, right), range(2), residual.NETWORKS):
            with column:
                show_run_figure(
                    view,
                    f"residual:history:{name}",
                    lambda index=index, name=name: gradient_norm_history(
                        shot.profiles, index, f"The {name} network's blocks over the run", unit="block"
                    ),
                    snapshot_only=True,
                )


@st.fragment
def residual_section():
    st.header("Residual networks")
    st.markdown(
        "Stack more layers and a network should do at least as well: the extra layers could just pass their input "
        "on. In practice a deep **plain** network trains *worse* than a shallower one, even on its own training "
        "data. A **residual** block adds its input back to its output, so its layers only learn a correction, and "
        "the gradient has a short path back to the first layers. Both networks below have the same layers and "
        "start from the same seed; the residual one has the orange paths."
    )
    show_figure(residual_blocks(), "residual:blocks")
    with st.expander("The smallest residual network as Keras builds it (1 block per stage)"):
        st.dataframe(smallest_network_table(), hide_index=True)
        st.caption(
            "The identity block keeps its input's shape, so it can be added back as it is; the convolutional block "
            "halves the image and doubles the channels, so its skip connection is a 1×1 convolution with stride 2."
        )
    run_section(
        LESSON.slug,
        residual.BOX,
        residual.task,
        draw_residual,
        waiting="The two networks appear once they are built and their first gradients measured (a few seconds).",
    )
    job, shot = trained_snapshot(residual.RUN)
    history = job.view().history if job is not None else []
    what_to_notice(residual.findings(history, shot), "Press Train: both networks train, epoch for epoch.")


residual_section()
