"""GAN training, live: a 2D GAN opened up (decision surface, the generator's push, mode coverage),
a small DCGAN on embedded images with a walk through its latent space, and the training tricks as
switches. Each section is a fragment with its own run."""

import streamlit as st

from core.charts.gan import coverage_curve, d_outputs, duel_plane, loss_curves
from core.charts.vision import gallery
from core.engine.text import markdown_literal
from core.lessons import lesson
from core.lessons.gan import gan, gan2d, imagegan
from core.shared import imagedata
from core.ui.controls import adopt_values, lesson_controls
from core.ui.figures import show_figure, show_run_figure
from core.ui.layout import bullet_list, lesson_header
from core.ui.live import live_panel, run_controls, trained_snapshot
from core.ui.uploads import read_once

LESSON = lesson("gan")
lesson_header(
    LESSON,
    "A generative adversarial network is two networks in a duel. The **generator** turns random "
    "numbers into samples; the **discriminator** sees real and generated samples and outputs D(x), its "
    "probability that x is real. The discriminator learns to tell them apart, the generator learns to "
    "fool it, and if the duel stays fair the generated samples end up looking like the real ones. Watch "
    "it happen in the plane, where every move is visible, then on images.",
)


def apply_preset(name: str) -> None:
    """Set the 2D section's trick widgets to a preset (a button callback, before they are drawn)."""
    adopt_values(gan2d.BOX, gan2d.PRESETS[name])


def preset_buttons() -> None:
    st.markdown("**Presets:** " + " · ".join(f"*{name}*: {gan2d.preset_summary(name)}" for name in gan2d.PRESETS))
    for column, name in zip(st.columns(len(gan2d.PRESETS)), gan2d.PRESETS):
        column.button(name.capitalize(), key=f"gan:preset:{name}", on_click=apply_preset, args=(name,), width="stretch")


def uploaded_points(config) -> gan2d.UploadedPoints | None:
    if config["target"] != gan2d.YOUR_CSV:
        return None
    st.download_button(
        "Download an example CSV (a heart)",
        gan2d.example_csv(),
        "heart.csv",
        "text/csv",
        icon=":material/download:",
        key="gan:example_csv",
    )
    upload = st.file_uploader(
        f"Your points: a CSV of two numeric columns, x and y ({gan2d.MIN_CSV_POINTS}–"
        f"{gan2d.MAX_CSV_POINTS:,} lines; a header line is optional)",
        type=["csv", "txt"],
        key="gan:csv",
    )
    if upload is None:
        st.info("Upload a CSV of points to train on it.", icon=":material/upload_file:")
        return None
    points, problem = read_once("gan:points", gan2d.read_points_csv, upload.getvalue(), upload.name)
    if problem is not None:
        st.error(markdown_literal(problem, None), icon=":material/error:")
        return None
    st.caption(f"{len(points.points):,} points from '{markdown_literal(points.name)}', scaled into ±2.")
    return points


def draw_duel(view) -> None:
    last = view.history[-1] if view.history else None
    st.markdown(bullet_list(gan2d.findings(view.snapshot, last)))
    show_run_figure(view, "duel:plane", _duel_plane, snapshot_only=True)
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "duel:losses",
            lambda view: loss_curves(
                view.history, f"Losses (mean of {gan2d.CURVE_WINDOW} iterations)", "iteration", gan2d.CURVE_WINDOW
            ),
        )
    with right:
        show_run_figure(
            view,
            "duel:outputs",
            lambda view: d_outputs(
                view.history,
                f"What the discriminator says (mean of {gan2d.CURVE_WINDOW})",
                "iteration",
                gan2d.CURVE_WINDOW,
            ),
        )
    show_run_figure(
        view,
        "duel:coverage",
        lambda view: coverage_curve(view.snapshot.coverage_history, view.snapshot.coverage.modes, "Mode coverage"),
        snapshot_only=True,
    )


def _duel_plane(view):
    shot, coverage = view.snapshot, view.snapshot.coverage
    return duel_plane(
        shot,
        f"Iteration {shot.iteration:,}: {coverage.covered} of {coverage.modes} "
        f"modes covered, {coverage.near_share:.0%} of samples near one",
    )


@st.fragment
def duel_section():
    st.header("A 2D GAN, opened up")
    st.markdown(
        "The real samples (green) come from a target shape. The background is the discriminator: blue where "
        "it says *real*, orange where it says *generated*. Red strokes show where the generator's gradient "
        "pushes each of its samples (black). Freeze one network with **Train**, pause and press **Step** to "
        "see one move at a time, or slow the run down with **Speed**."
    )
    preset_buttons()
    config = lesson_controls(LESSON.slug, gan2d.BOX)
    uploaded = uploaded_points(config)
    if config["target"] == gan2d.YOUR_CSV and uploaded is None:
        return
    job = run_controls(gan2d.train_task(config, uploaded), gan2d.BOX)
    live_panel(job, lambda view: draw_duel(view), waiting="The networks appear once they are built (a few seconds).")
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- The generator never sees a real sample: everything it learns comes through the discriminator's "
            "gradient, the red strokes. They point up the slope of D, towards where D says *real*.\n"
            "- Freeze the generator (**Train: discriminator only**): the background sharpens around the real "
            "samples and the losses part. Then freeze the discriminator: the samples slide downhill into its blue "
            "regions, and stop caring about the real points once they are there.\n"
            "- **Mode collapse**: press *Provoke mode collapse* and train. All samples gather in one small blob "
            "that hops from mode to mode: the generator found one thing that fools D, D learns to reject it, the "
            "generator moves on. Coverage stays low while D(generated) swings.\n"
            "- The losses never settle like a classifier's: the two are in a game, and the dashed lines mark where "
            "they sit when neither can improve."
        )


def draw_images(view) -> None:
    shot = view.snapshot
    st.markdown(bullet_list(imagegan.findings(shot, view.history[-1] if view.history else None)))
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "images:samples",
            lambda view: gallery(
                view.snapshot.samples,
                [f"D = {d:.2f}" for d in view.snapshot.d_on_samples],
                f"16 fixed latent vectors after epoch {view.snapshot.epoch}",
            ),
            snapshot_only=True,
        )
    with right:
        show_run_figure(
            view,
            "images:real",
            lambda view: gallery(view.snapshot.real, [""] * len(view.snapshot.real), "16 real images"),
            snapshot_only=True,
        )
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view, "images:losses", lambda view: loss_curves(view.history, "Losses (mean over each epoch)", "epoch")
        )
    with right:
        show_run_figure(
            view, "images:outputs", lambda view: d_outputs(view.history, "What the discriminator says", "epoch")
        )


@st.fragment
def images_section():
    st.header("An image GAN")
    st.markdown(
        "A small DCGAN: the generator grows a 32-channel map into an image with two transposed "
        "convolutions; the discriminator shrinks an image to one logit with two convolutions. The grid on "
        "the left always uses the same 16 latent vectors, so what changes is the generator alone."
    )
    config = lesson_controls(LESSON.slug, imagegan.BOX)
    st.caption(imagedata.GAN_DESCRIPTIONS[config["images"]])
    job = run_controls(imagegan.train_task(config), imagegan.BOX)
    live_panel(
        job,
        lambda view: draw_images(view),
        waiting="The networks appear once the images are loaded and the networks built.",
    )
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- Blobs first, then strokes: the generator learns the average brightness, then the shapes.\n"
            "- The discriminator's outputs hover near ½ when the duel is balanced. D(real) near 1 and D(generated) "
            "near 0 means D is winning and the generator's gradient is weak: lower D's learning rate.\n"
            "- Switch off batch normalisation or use the minimax loss and compare the grid after the same epochs."
        )


@st.cache_resource(max_entries=3, show_spinner=False)
def walker_for(job_id: str, epoch: int, config: dict, size: int, _weights, _state) -> imagegan.Walker:
    """One rebuilt generator per run and epoch, shared by every session looking at it."""
    return imagegan.Walker(config, size, _weights, _state)


@st.fragment
def walk_section():
    st.header("Walk through the latent space")
    job, shot = trained_snapshot(imagegan.RUN)
    if shot is None:
        st.caption("Train the image GAN above (at least one epoch): this section then walks between its samples.")
        return
    walker = walker_for(
        job.id, shot.epoch, dict(job.task.config), shot.size, shot.generator_weights, shot.generator_state
    )
    st.markdown(
        "Pick two of the 16 samples: the pictures between them come from latent vectors on the straight "
        "line between theirs. A smooth change means the generator learned a continuous space, not a list "
        "of memorised images."
    )
    left, middle, right = st.columns(3)
    start = left.selectbox(
        "From sample", range(imagegan.GRID), index=0, format_func=lambda i: f"#{i + 1}", key="gan:walk_from"
    )
    end = middle.selectbox(
        "To sample", range(imagegan.GRID), index=1, format_func=lambda i: f"#{i + 1}", key="gan:walk_to"
    )
    steps = right.slider("Pictures", 3, 12, 8, key="gan:walk_steps")
    z = imagegan.fixed_latents(int(job.task.config["seed"]))
    images = walker.interpolate(z[start], z[end], steps)
    captions = [f"{share:.0%}" for share in [k / (steps - 1) for k in range(steps)]]
    show_figure(
        gallery(images, captions, f"From #{start + 1} to #{end + 1} (epoch {shot.epoch})", columns=steps),
        key="walk:interpolation",
    )


with st.expander("The tricks, and why they help", expanded=False):
    st.markdown(gan.TRICKS_TABLE)

duel_section()
images_section()
walk_section()
