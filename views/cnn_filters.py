"""CNN filter viewer: convolution by hand on real photos, the arithmetic of output sizes, a CNN
trained live with its filters and feature maps, and a look inside the trained network (confusion,
mistakes, saliency, your own picture). Each section is a fragment."""

import numpy as np
import streamlit as st

from core.charts.training import metric_curves
from core.charts.vision import (
    arithmetic_grids,
    class_bars,
    confusion_heatmap,
    feature_map_mosaic,
    filter_mosaic,
    gallery,
    kernel_numbers,
    pictures_side_by_side,
)
from core.engine.text import markdown_literal
from core.lessons import lesson
from core.lessons.cnn_filters import cnn, convolution
from core.shared import imagedata
from core.ui.controls import lesson_controls
from core.ui.figures import show_figure, show_run_figure
from core.ui.layout import bullet_list, lesson_header
from core.ui.live import live_panel, run_controls, trained_snapshot

LESSON = lesson("cnn_filters")
lesson_header(
    LESSON,
    "A convolutional network looks at a picture through small windows. In each window it weighs "
    "the pixels with a **kernel** and adds them up, and it slides the window over the whole picture. "
    "Try classic kernels on real photos first. Then train a network live and watch it learn kernels of "
    "its own, and look inside it when it is done.",
)


def custom_kernel() -> np.ndarray | None:
    """The kernel the student types; None (with the reason shown) while it makes no sense."""
    text = st.text_area(
        "Your kernel (rows of numbers)",
        value=convolution.DEFAULT_CUSTOM_KERNEL,
        height=110,
        key="cnn_filters:custom_kernel",
        help="One row per line, numbers split by spaces or commas; square, up to 7×7.",
    )
    try:
        return convolution.parse_kernel(text)
    except ValueError as error:
        st.error(markdown_literal(error, None), icon=":material/edit_off:")
        return None


@st.fragment
def by_hand_section():
    st.header("Convolution by hand")
    st.markdown(
        "Pick a picture and a kernel. Each output pixel is the sum of the 3×3 pixels around it, each "
        "multiplied by the kernel's number in the same place (orange negative, blue positive)."
    )
    config = lesson_controls(LESSON.slug, convolution.FILTER_BOX)
    kernel = (
        custom_kernel()
        if config["kernel"] == convolution.YOUR_KERNEL
        else np.array(convolution.KERNELS[config["kernel"]])
    )
    if kernel is None:
        return
    image = convolution.photo(config["photo"])
    output = convolution.filter_image(image, kernel, config["stride"], config["padding"])
    left, right = st.columns([1, 3])
    with left:
        show_figure(kernel_numbers(kernel, f"The kernel ({kernel.shape[0]}×{kernel.shape[1]})"), key="hand:kernel")
        st.caption(convolution.kernel_note(kernel))
    with right:
        show_figure(
            pictures_side_by_side(
                [image, output],
                [
                    f"{config['photo']}: {image.shape[1]}×{image.shape[0]}",
                    f"output: {output.shape[1]}×{output.shape[0]}",
                ],
                [False, bool(np.min(output) < 0)],
                "The picture and what the kernel makes of it",
            ),
            key="hand:output",
        )
    size = config["pool_size"]
    rectified = np.maximum(output, 0)
    pooled = {mode: convolution.pool2d(rectified, size, mode=mode) for mode in ("max", "average")}
    st.subheader("Pooling")
    st.markdown(
        f"A network follows a convolution with ReLU (negatives become 0) and then often **pools**: each "
        f"{size}×{size} block becomes one pixel, its largest value (max pooling) or its mean (average pooling). "
        "The picture shrinks and small shifts matter less."
    )
    show_figure(
        pictures_side_by_side(
            [rectified, pooled["max"], pooled["average"]],
            [
                f"ReLU(output): {rectified.shape[1]}×{rectified.shape[0]}",
                f"max pooled: {pooled['max'].shape[1]}×{pooled['max'].shape[0]}",
                f"average pooled: {pooled['average'].shape[1]}×{pooled['average'].shape[0]}",
            ],
            [False, False, False],
            f"{size}×{size} pooling",
        ),
        key="hand:pooling",
    )
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- **Sobel x** lights up vertical edges (blue where the picture gets brighter to the right, orange where "
            "it gets darker); **Sobel y** does the same for horizontal edges.\n"
            "- The **blurs** average their neighbourhood (weights sum to 1); **sharpen** adds the difference from the "
            "neighbours back.\n"
            "- **Stride 2** skips every other position: the output is half as wide. **Valid** padding loses a border "
            "as wide as half the kernel.\n"
            "- With **same** padding an edge kernel draws a line along the picture's border: the zeros added around "
            "it look like a sudden edge to black.\n"
            "- Max pooling keeps the strongest edge in each block: after it, edges are still there at a quarter of "
            "the pixels."
        )


@st.fragment
def arithmetic_section():
    st.header("Convolution arithmetic")
    st.markdown(
        "How big is the output? Choose the input size, kernel, stride, padding and dilation, then move the "
        "output cell to see which input cells its window reads."
    )
    config = lesson_controls(LESSON.slug, convolution.ARITHMETIC_BOX)
    padding = convolution.padding_value(config["padding"])
    size, kernel, stride, dilation = (config[k] for k in ("size", "kernel", "stride", "dilation"))
    outputs = convolution.output_size(size, kernel, stride, padding, dilation)
    st.markdown(convolution.arithmetic_formula(size, kernel, stride, padding, dilation))
    if outputs == 0:
        return
    left, right = st.columns(2)
    row = left.slider("Output row", 0, outputs - 1, 0, key="cnn_filters:arith_row") if outputs > 1 else 0
    column = right.slider("Output column", 0, outputs - 1, 0, key="cnn_filters:arith_column") if outputs > 1 else 0
    padded, result = convolution.arithmetic_cells(size, kernel, stride, padding, dilation, row, column)
    show_figure(
        arithmetic_grids(
            padded,
            result,
            f"Output cell ({row}, {column}) reads the blue cells",
            f"input {size}×{size} with padding (grey)",
            f"output {outputs}×{outputs}",
        ),
        key="arith:grids",
    )


def draw_training(view, example: int) -> None:
    shot = view.snapshot
    last = view.history[-1] if view.history else None
    st.caption(f"{shot.source} {shot.batches_note}")
    st.markdown(bullet_list(cnn.training_findings(shot, last)))
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "train:loss",
            lambda view: metric_curves(view.history, ("loss", "val_loss"), "Loss: training and held-out test (val)"),
        )
    with right:
        show_run_figure(
            view,
            "train:accuracy",
            lambda view: metric_curves(
                view.history, ("accuracy", "val_accuracy"), "Accuracy: training and held-out test (val)"
            ),
        )
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "train:filters0",
            lambda view: filter_mosaic(
                view.snapshot.initial_filters,
                f"conv1's {view.snapshot.filters.shape[-1]} filters at the start (random)",
            ),
            snapshot_only=True,
        )
    with right:
        show_run_figure(
            view,
            "train:filters",
            lambda view: filter_mosaic(
                view.snapshot.filters,
                f"conv1's {view.snapshot.filters.shape[-1]} filters now (epoch {view.snapshot.epoch})",
            ),
            snapshot_only=True,
        )
    index = min(example, len(shot.examples) - 1)
    left, right = st.columns([1, 2])
    with left:
        show_run_figure(
            view,
            "train:input",
            lambda view: gallery(
                view.snapshot.images[index : index + 1],
                [f"test image of a {view.snapshot.class_names[index]}"],
                "The input",
                columns=1,
            ),
            choices=index,
            snapshot_only=True,
        )
    with right:
        show_run_figure(
            view,
            "train:probabilities",
            lambda view: _class_scores(view.snapshot, index),
            choices=index,
            snapshot_only=True,
        )
    layers = len(shot.layer_names)
    for start in range(0, layers, 2):  # a conv layer beside the pooling that follows it
        for column, layer in zip(st.columns(2), range(start, min(start + 2, layers))):
            with column:
                show_run_figure(
                    view,
                    f"train:maps:{shot.layer_names[layer]}",
                    lambda view, layer=layer: _feature_maps(view.snapshot, layer, index),
                    choices=index,
                    snapshot_only=True,
                )


def _class_scores(shot, index: int):
    probabilities, names = shot.probabilities[index], shot.class_names
    return class_bars(
        probabilities,
        names,
        f"What the network says now: {names[int(np.argmax(probabilities))]} ({probabilities.max():.0%})",
        "probability",
        highlight=index,
    )


def _feature_maps(shot, layer: int, index: int):
    """Layer `layer`'s feature maps of test image `index`."""
    name, shape, maps = shot.layer_names[layer], shot.layer_shapes[layer], shot.feature_maps[layer]
    shown = f" (the first {maps.shape[-1]})" if maps.shape[-1] < shape[-1] else ""
    return feature_map_mosaic(maps[index], f"{name}: {shape[-1]} maps of {shape[0]}×{shape[1]}{shown}")


@st.fragment
def training_section():
    st.header("Train a CNN live")
    st.markdown(
        "A real Keras network: convolution blocks (ReLU, then pooling), dropout and one dense layer of class "
        "scores, trained by Adam. Press **Train** and watch the first layer's filters move away from their "
        "random start, and the feature maps of one test image change with them."
    )
    config = lesson_controls(LESSON.slug, cnn.TRAIN_BOX)
    dataset = config["dataset"]
    st.caption(imagedata.DESCRIPTIONS[dataset])
    problem = imagedata.availability(dataset)
    if problem:
        st.warning(problem, icon=":material/cloud_off:")
    names = imagedata.class_names(dataset)
    example = st.selectbox(
        "Feature maps for the first test image of class",
        range(len(names)),
        format_func=names.__getitem__,
        key="cnn_filters:example",
    )
    job = run_controls(cnn.train_task(config), cnn.TRAIN_BOX)
    live_panel(
        job,
        lambda view: draw_training(view, example),
        waiting="The network appears once the data is loaded and its weights are made.",
    )
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- The filters start as random noise and move away from it as they learn (the findings say how far). "
            "A small network's filters rarely look as tidy as Sobel's: read what they do in the feature maps.\n"
            "- conv1's maps are the image seen through each filter: some light up along one side of a stroke (an "
            "**edge detector**, like Sobel's), some on the whole stroke, some on the background. After pooling they "
            "are half the size; conv2 combines them and answers to larger parts (a loop, a corner, an end of a "
            "stroke).\n"
            "- A map that stays dark is a filter that found nothing in this image (or a dead ReLU unit).\n"
            "- Training accuracy above test accuracy is the start of overfitting: raise the dropout or lower the "
            "number of filters and compare."
        )


@st.cache_resource(max_entries=3, show_spinner=False)
def inspector_for(job_id: str, epoch: int, config: dict, _weights) -> cnn.Inspector:
    """One inspector per run and epoch, shared by every session looking at it."""
    return cnn.Inspector(config, _weights)


def upload_part(inspector: cnn.Inspector) -> None:
    st.subheader("Your own picture")
    shape = inspector.data.image_shape
    st.markdown(
        f"Upload a PNG or JPEG. It is shrunk to {shape[1]}×{shape[0]} pixels, as the network sees it, and classified."
    )
    upload = st.file_uploader(
        "Your picture", type=["png", "jpg", "jpeg", "gif", "bmp", "webp"], key="cnn_filters:upload"
    )
    if upload is None:
        return
    try:
        image, notes = cnn.prepare_upload(upload.getvalue(), shape)
    except ValueError as error:
        st.error(markdown_literal(error, None), icon=":material/broken_image:")
        return
    st.caption(" ".join(notes))
    names = inspector.data.class_names
    probabilities = inspector.classify(image)
    best = int(np.argmax(probabilities))
    left, right = st.columns([1, 2])
    with left:
        show_figure(gallery(image[None], ["as the network sees it"], "Your picture", columns=1), key="inspect:upload")
    with right:
        show_figure(
            class_bars(
                probabilities,
                names,
                f"The network says: {names[best]} ({probabilities[best]:.0%})",
                "probability",
                highlight=best,
            ),
            key="inspect:upload_probabilities",
        )
    maps = inspector.feature_maps(image)
    first = maps[0][..., : cnn.MAX_MAPS_PER_LAYER]
    show_figure(
        feature_map_mosaic(first, f"conv1's maps of your picture ({first.shape[-1]} shown)"), key="inspect:upload_maps"
    )


@st.fragment
def inspect_section():
    st.header("Look inside the trained network")
    job, shot = trained_snapshot(cnn.TRAIN_RUN)
    if shot is None:
        st.caption("Train a network above (at least one epoch): this section then measures it on every test image.")
        return
    st.button("Look again at the network as it is now", icon=":material/refresh:", key="cnn_filters:inspect_again")
    with st.spinner("Classifying every test image…"):
        inspector = inspector_for(job.id, shot.epoch, dict(job.task.config), shot.weights)
    names, data = inspector.data.class_names, inspector.data
    st.markdown(f"The network after epoch {shot.epoch}:\n" + bullet_list(cnn.inspection_findings(inspector)))
    left, right = st.columns(2)
    with left:
        show_figure(
            confusion_heatmap(inspector.confusion(), names, "Confusion matrix (test images)"), key="inspect:confusion"
        )
    with right:
        show_figure(
            class_bars(inspector.per_class_accuracy(), names, "Accuracy per class", "accuracy"), key="inspect:per_class"
        )
    mistakes = inspector.confident_mistakes(8)
    if len(mistakes):
        captions = [
            f"#{i}: {names[data.y_test[i]]} → said {names[inspector.predicted[i]]} "
            f"({inspector.probabilities[i, inspector.predicted[i]]:.0%})"
            for i in mistakes
        ]
        show_figure(gallery(data.x_test[mistakes], captions, "The most confident mistakes"), key="inspect:mistakes")
    st.subheader("Saliency: which pixels matter")
    st.markdown(
        "The gradient of a class's score with respect to every input pixel (computed by `jax.grad`): bright "
        "pixels are those whose change would move the score most."
    )
    left, right = st.columns(2)
    default = int(mistakes[0]) if len(mistakes) else 0
    index = left.number_input(
        "Test image number", 0, len(data.y_test) - 1, default, key=f"cnn_filters:saliency_image:{data.name}"
    )
    predicted = int(inspector.predicted[index])
    target = right.selectbox(
        "Score of class",
        range(len(names)),
        index=predicted,
        format_func=names.__getitem__,
        key=f"cnn_filters:saliency_class:{index}",
    )
    saliency = inspector.saliency(data.x_test[index], target)
    image = data.x_test[index]
    show_figure(
        pictures_side_by_side(
            [image.mean(axis=-1), saliency],
            [
                f"test image #{index}: a {names[data.y_test[index]]} (said {names[predicted]})",
                f"|∂ score({names[target]}) / ∂ pixel|",
            ],
            [False, False],
            "Saliency map",
            height=340,
            colorscales=[None, "Hot"],
        ),
        key="inspect:saliency",
    )
    upload_part(inspector)


by_hand_section()
arithmetic_section()
training_section()
inspect_section()
