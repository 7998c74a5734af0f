"""Engine room: a live training run to check the machine, and every run on this server."""

import streamlit as st

from core.charts.training import decision_surface, metric_curves
from core.lessons import lesson
from core.lessons.engine_room import engine_check
from core.ui.controls import lesson_controls
from core.ui.figures import show_run_figure
from core.ui.layout import lesson_header
from core.ui.live import live_panel, run_controls
from core.ui.session import job_registry, session_id

LESSON = lesson("engine_room")
lesson_header(
    LESSON,
    "Before class, start this run to see the machine train a real Keras network live: "
    "a small multilayer perceptron learning to separate two interleaved moons. "
    "Everything a lesson's run shows appears here too.",
)

config = lesson_controls(LESSON.slug, engine_check.BOX)
job = run_controls(engine_check.task(config), engine_check.BOX)


def draw(view):
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view, "loss", lambda view: metric_curves(view.history, ("loss", "val_loss"), "Loss (cross-entropy)")
        )
        show_run_figure(
            view, "accuracy", lambda view: metric_curves(view.history, ("accuracy", "val_accuracy"), "Accuracy")
        )
    with right:
        data = engine_check.moons_data(job.task.config["noise"], job.task.config["seed"])
        show_run_figure(
            view,
            "surface",
            lambda view: decision_surface(
                view.snapshot.axis,
                view.snapshot.probabilities,
                data.x_test,
                data.y_test,
                f"What the network predicts after epoch {view.snapshot.epoch} (test points)",
            ),
            snapshot_only=True,
        )


live_panel(job, draw, waiting="The curves and the decision surface appear after the first epoch.")

with st.expander("What to notice", expanded=True):
    st.markdown(
        "- The first second or two is Keras compiling the model for the processor; after that, epochs fly.\n"
        "- **Validation loss** (test points the network never trains on) follows the training loss, then "
        "levels off: that gap is what overfitting looks like when it starts.\n"
        "- Change the **learning rate :material/bolt: while it trains**: at 3 or 10 the loss jumps and the surface "
        "turns "
        "ragged; back at 0.03 it settles again, without a restart.\n"
        "- Open this page in a second tab with the same settings: it joins the same run instead of training twice."
    )

st.header("Runs on this server")
registry = job_registry()
views = registry.views()
mine = {v.id for v in registry.views(session_id())}
if getattr(registry, "address", None):
    where = " on the Ray cluster (runs train in its actors)"
elif registry.workers:
    where = " (runs train in worker processes, out of the pages’ way)"
else:
    where = (
        " (runs train in threads of this server, sharing its Python with the pages that watch them: a class "
        "watching a run slows it; a server started by `make run` trains in worker processes instead)"
    )
st.caption(
    f"{registry.running_count} of {registry.max_running} training slots in use{where}; "
    f"finished runs are kept so that everyone asking for the same settings shares them. "
    "Only your own runs show their id: another session's run is theirs to share."
)
memory = registry.memory
if memory.resident_mb is not None:
    budget = f"of its {memory.budget_mb} MB budget" if memory.budget_mb else "(no memory budget is set)"
    done = (
        f"over budget it has evicted {memory.runs_evicted} finished runs nobody watched and dropped compiled code "
        f"{memory.compiled_code_dropped} times (the next run of each lesson then compiles again)"
        if memory.runs_evicted or memory.compiled_code_dropped
        else "it has not needed to free anything yet"
    )
    st.caption(f"After the last run ended the server used {memory.resident_mb:.0f} MB {budget}; {done}.")
if views:
    st.dataframe(
        [
            {
                "id": v.id if v.id in mine else "(someone else's)",
                "run": v.run,
                "status": v.status.value,
                "epoch": f"{v.epoch}/{v.epochs}",
                "watching": v.viewers,
                "queue place": str(v.queue_position) if v.queue_position else "–",
                "time (s)": round(v.elapsed_s, 1),
            }
            for v in views
        ],
        hide_index=True,
    )
    if registry.running_count:
        st.caption(
            "The table is as the page was last drawn: a run's progress follows in its own panel above; "
            "**Refresh** redraws the table."
        )
        st.button("Refresh", icon=":material/refresh:", key="engine_room:runs_refresh")
else:
    st.caption("No runs yet.")
