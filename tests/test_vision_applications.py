"""The vision-applications lesson: residual networks against plain ones (shapes, the layer count, the measured
gradient norms against a finite difference, and the live run)."""

import pathlib

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.engine.jobs import JobRegistry, JobStatus
from core.lessons.vision_applications import residual
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
