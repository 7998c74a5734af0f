"""The playground's data, its jitted training loop checked against Keras' own `fit`, the default
settings learning the hard sets, the live run, CSV uploads and the exported Keras code."""

import time

import numpy as np
import pytest

from core.engine import pacing
from core.engine.backend import load_keras
from core.engine.jobs import JobRegistry, JobStatus
from core.lessons.perceptron import playground
from tests.helpers import wait_until

DEFAULTS = {c.key: c.default for c in playground.CONTROLS}


@pytest.mark.parametrize("name", playground.DATASETS)
def test_every_data_set_fills_the_square_with_all_its_classes(name):
    data = playground.make_dataset(name, 0.2, 0.3, 5)
    points = np.concatenate([data.x_train, data.x_test])
    labels = np.concatenate([data.y_train, data.y_test])
    assert len(points) == playground.N_POINTS and len(data.x_train) == 150
    assert np.mean(np.abs(points).max(axis=1) <= playground.EXTENT) >= 0.97
    expected = {"three arms": 3, "four blobs": 4}.get(name, 2)
    assert data.n_classes == expected and set(labels) == set(range(expected))
    assert min(np.bincount(labels)) >= 0.6 * playground.N_POINTS / expected  # noise may relabel some
    again = playground.make_dataset.__wrapped__(name, 0.2, 0.3, 5)
    np.testing.assert_array_equal(again.x_train, data.x_train)  # same seed, same points


def test_circle_and_xor_labels_follow_the_playground_rules_without_noise():
    circle = playground.make_dataset("circle", 0.0, 0.5, 1)
    inside = np.linalg.norm(circle.x_train, axis=1) < 2.5
    np.testing.assert_array_equal(inside.astype(int), circle.y_train)
    xor = playground.make_dataset("XOR", 0.0, 0.5, 1)
    np.testing.assert_array_equal((xor.x_train.prod(axis=1) >= 0).astype(int), xor.y_train)


def test_features_are_the_named_functions_of_the_point():
    points = np.array([[2.0, -3.0]], dtype="float32")
    values = playground.feature_matrix(points, playground.FEATURES)[0]
    np.testing.assert_allclose(values, [2, -3, 4, 9, -6, np.sin(2), np.sin(-3)], rtol=1e-6)
    assert playground.feature_matrix(points, ("sin x2", "x1")).tolist() == [
        [2.0, pytest.approx(np.sin(-3))]
    ]  # FEATURES order


def test_the_penalty_is_what_keras_regularisers_add():
    keras = load_keras()
    kernels = [np.random.default_rng(0).normal(size=(3, 4)).astype("float32"), np.ones((4, 1), dtype="float32")]
    expected = sum(float(keras.regularizers.L1(0.03)(k)) + float(keras.regularizers.L2(0.3)(k)) for k in kernels)
    assert float(playground.penalty(kernels, 0.03, 0.3)) == pytest.approx(expected, rel=1e-6)


def keras_reference(trainer, data, loss, learning_rate, regulariser, rate, n_classes):
    """The same network trained one full-batch step by Keras' own compile/fit."""
    keras = load_keras()
    l1, l2 = playground.regularisation_rates(regulariser, rate)
    reg = keras.regularizers.L1L2(l1=l1, l2=l2) if l1 or l2 else None
    two = n_classes == 2
    model = keras.Sequential(
        [keras.Input((2,))]
        + [keras.layers.Dense(u, activation="tanh", kernel_regularizer=reg) for u in trainer.layers]
        + [
            keras.layers.Dense(
                1 if two else n_classes, activation="sigmoid" if two else "softmax", kernel_regularizer=reg
            )
        ]
    )
    model.set_weights([w for pair in trainer.weights() for w in pair])
    x, y = data.x_train, data.y_train
    if loss == "cross-entropy":
        keras_loss, target = (
            ("binary_crossentropy", y[:, None].astype("float32")) if two else ("sparse_categorical_crossentropy", y)
        )
    else:
        keras_loss, target = (
            "mean_squared_error",
            (y[:, None].astype("float32") if two else np.eye(n_classes, dtype="float32")[y]),
        )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss=keras_loss)
    model.fit(x, target, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


@pytest.mark.parametrize(
    "name, loss, regulariser",
    [
        ("spiral", "cross-entropy", "none"),
        ("moons", "squared error", "L2"),
        ("three arms", "cross-entropy", "L1"),
        ("four blobs", "squared error", "none"),
    ],
)
def test_one_full_batch_step_equals_keras_fit(name, loss, regulariser):
    data = playground.make_dataset(name, 0.1, 0.2, 3)
    trainer = playground.Trainer(data, ("x1", "x2"), (5, 3), "tanh", 0.0, loss, batch_size=len(data.x_train), seed=4)
    expected = keras_reference(trainer, data, loss, 0.3, regulariser, 0.01, data.n_classes)
    trainer.run(1, 0.3, *playground.regularisation_rates(regulariser, 0.01))
    got = [w for pair in trainer.weights() for w in pair]
    for mine, theirs in zip(got, expected):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)


def test_the_learning_rate_is_an_argument_not_a_constant():
    data = playground.make_dataset("circle", 0.0, 0.5, 0)
    trainer = playground.Trainer(data, ("x1", "x2"), (4,), "tanh", 0.0, "cross-entropy", 10, 0)
    before = trainer.weights()
    rows = trainer.run(3, 0.0)
    for (k0, b0), (k1, b1) in zip(before, trainer.weights()):
        np.testing.assert_array_equal(k0, k1)
        np.testing.assert_array_equal(b0, b1)
    assert rows[0][0] == rows[-1][0]  # nothing learned at rate 0
    rows = trainer.run(20, 0.1)
    assert rows[-1][0] < rows[0][0]  # the same compiled loop learns at 0.1
    assert trainer.epoch == 23


@pytest.mark.parametrize("name", ["spiral", "three arms"])
def test_the_default_settings_learn_the_spiral_and_the_three_class_set(name):
    data = playground.make_dataset(name, DEFAULTS["noise"], DEFAULTS["train_share"], DEFAULTS["data_seed"])
    trainer = playground.Trainer.from_config(data, DEFAULTS)
    rows = np.concatenate(
        [
            trainer.run(min(playground.MAX_CHUNK, DEFAULTS["epochs"] - trainer.epoch), DEFAULTS["learning_rate"])
            for _ in range(int(np.ceil(DEFAULTS["epochs"] / playground.MAX_CHUNK)))
        ]
    )
    assert len(rows) == DEFAULTS["epochs"]
    assert rows[-1][3] >= 0.9, f"test accuracy after {len(rows)} epochs: {rows[-1][3]:.3f}"


def test_the_network_without_hidden_layers_cannot_learn_xor_but_x1x2_makes_it_linear():
    data = playground.make_dataset("XOR", 0.0, 0.5, 0)
    plain = playground.Trainer(data, ("x1", "x2"), (), "tanh", 0.0, "cross-entropy", 10, 0)
    product = playground.Trainer(data, ("x1x2",), (), "tanh", 0.0, "cross-entropy", 10, 0)
    assert plain.run(200, 0.03)[-1][3] < 0.75
    assert product.run(200, 0.03)[-1][3] >= 0.97


def test_the_snapshot_has_a_picture_for_every_neuron():
    data = playground.make_dataset("four blobs", 0.0, 0.5, 0)
    trainer = playground.Trainer(data, ("x1", "x2", "sin x1"), (6, 3), "relu", 0.2, "cross-entropy", 10, 0)
    trainer.run(2, 0.1)
    shot = trainer.snapshot()
    size, thumb = playground.SURFACE_SIZE, playground.THUMBNAIL_SIZE
    assert shot.surface.shape == (size, size, 4)
    np.testing.assert_allclose(shot.surface.sum(axis=-1), 1.0, atol=1e-5)
    assert [n.shape for n in shot.neurons] == [(6, thumb, thumb), (3, thumb, thumb)]
    assert shot.output_thumbnail.shape == (thumb, thumb, 4)
    assert [k.shape for k, _ in shot.weights] == [(3, 6), (6, 3), (3, 4)]
    # the last hidden neuron's picture is that neuron's output at the grid's points
    _, points = playground.grid(thumb)
    model = trainer.sync_model()
    keras = load_keras()
    hidden = keras.Model(model.inputs, model.get_layer("hidden_2").output)
    expected = hidden.predict(playground.feature_matrix(points, trainer.features), verbose=0)[:, 2].reshape(
        thumb, thumb
    )
    np.testing.assert_allclose(shot.neurons[1][2], expected, rtol=1e-5, atol=1e-6)


def config(**changes):
    return {**DEFAULTS, **changes}


def test_a_live_run_publishes_every_epoch_pauses_steps_and_takes_a_new_rate():
    registry = JobRegistry(max_running=1)
    cfg = config(data="moons", layers=(4,), epochs=5000, speed="slow motion")
    data = playground.make_dataset("moons", 0.0, 0.5, 0)
    job = registry.submit(playground.task(cfg, data), "s1")
    try:
        assert wait_until(lambda: job.view().epoch >= 3, timeout=60)
        job.pause()
        assert wait_until(lambda: job.view().status == JobStatus.PAUSED)
        time.sleep(0.3)
        paused_at = job.view().epoch
        job.step()
        assert wait_until(lambda: job.view().epoch == paused_at + 1 and job.status == JobStatus.PAUSED, timeout=30)
        time.sleep(0.3)
        assert job.view().epoch == paused_at + 1  # exactly one epoch per step
        job.set_hyperparams(learning_rate=0.0, speed="full speed")
        job.resume()
        assert wait_until(lambda: job.view().epoch >= paused_at + 300, timeout=60)
        history = job.view().history
        tail = [row["train_loss"] for row in history[-50:]]
        assert max(tail) == min(tail)  # learning rate 0: the loss stands still
        assert [row["epoch"] for row in history] == list(range(1, len(history) + 1))
        assert job.view().snapshot.epoch <= job.view().epoch
    finally:
        registry.shutdown()


def test_epochs_per_second_reads_the_recent_timestamps():
    history = [{"epoch": e, "time_s": e / 100} for e in range(1, 501)]
    assert pacing.epochs_per_second(history) == pytest.approx(100)
    assert pacing.epochs_per_second(history[:1]) is None


def test_the_pacer_holds_a_rate_and_restarts_after_a_change():
    pacer = pacing.Pacer()
    started = time.perf_counter()
    for _ in range(6):
        pacer.hold(5, 100.0)  # 5 epochs at 100/s: 50 ms each after the first
    assert time.perf_counter() - started >= 0.24
    pacer.hold(5, 10.0)  # a new target restarts the clock instead of sleeping for the old schedule
    assert time.perf_counter() - started < 1.0


def test_the_exported_code_rebuilds_the_trained_network(tmp_path):
    data = playground.make_dataset("three arms", 0.0, 0.5, 0)
    cfg = config(
        data="three arms",
        features=("x1", "x2", "x1x2", "sin x2"),
        layers=(5, 3),
        dropout=0.1,
        regulariser="L2",
        regularisation_rate=0.003,
    )
    trainer = playground.Trainer.from_config(data, cfg)
    trainer.run(30, 0.1)
    code = playground.keras_code(cfg, trainer.weights(), data.classes)
    script = tmp_path / "network.py"
    script.write_text(code)
    namespace = {"__name__": "exported"}
    exec(compile(code, str(script), "exec"), namespace)
    points = np.random.default_rng(1).uniform(-6, 6, (50, 2)).astype("float32")
    exported = namespace["model"].predict(namespace["features"](points), verbose=0)
    ours = trainer.sync_model().predict(playground.feature_matrix(points, cfg["features"]), verbose=0)
    np.testing.assert_allclose(exported, ours, rtol=1e-5, atol=1e-6)
    assert "kernel_regularizer=keras.regularizers.L2(0.003)" in code and "Dropout(0.1)" in code
    assert "sparse_categorical_crossentropy" in code


HOSTILE_LABELS = [
    ('a"""\nimport pathlib; pathlib.Path("x").write_text("y")\n"""', "a'''\nimport os\n'''", "\\"),
    ("# comment\nimport pathlib; pathlib.Path('x').write_text('y')", "é ünïcødé ☃ 学习", "x" * 10_000),
    ('\\"""\\', "\r\n\x00 end", "{config}"),
]


@pytest.mark.parametrize("classes", HOSTILE_LABELS)
def test_hostile_labels_reach_the_exported_script_only_as_literals(classes, tmp_path, monkeypatch):
    import ast

    data = playground.make_dataset("three arms", 0.0, 0.5, 0)
    cfg = config(data="three arms", layers=(3,))
    trainer = playground.Trainer.from_config(data, cfg)
    benign = ast.parse(playground.keras_code(cfg, trainer.weights(), data.classes))
    code = playground.keras_code({**cfg, "data": classes[0]}, trainer.weights(), classes)
    hostile = ast.parse(code)
    shape = lambda tree: [type(node).__name__ for node in ast.walk(tree) if isinstance(node, ast.stmt)]  # noqa: E731
    assert shape(hostile) == shape(benign)
    assert ast.get_docstring(hostile) == ast.get_docstring(benign)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "exported"}
    exec(compile(code, "network.py", "exec"), namespace)
    assert namespace["CLASSES"] == tuple(classes) and namespace["DATA"] == classes[0]
    assert not list(tmp_path.iterdir())  # nothing was written


def csv_bytes(rows, header="x1,x2,label"):
    return (header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n").encode()


GOOD_ROWS = [(i, i % 7 - 3.5, "cat" if i % 3 else "dog") for i in range(40)]


def test_a_good_csv_with_word_labels_is_rescaled_into_the_square():
    upload = playground.read_points_csv(csv_bytes(GOOD_ROWS), "pets.csv")
    assert upload.classes == ("class cat", "class dog")
    assert upload.points.min() == pytest.approx(-5) and upload.points.max() == pytest.approx(5)
    assert sorted(np.bincount(upload.labels)) == [14, 26]  # i % 3 == 0 for 14 of 0…39
    data = upload.split(0.5, 0)
    assert len(data.x_train) == 20 and len(data.x_test) == 20


BAD_UPLOADS = {
    "empty": (b"", "The file is empty"),
    "text in a numeric column": (
        csv_bytes([(1, 2, 0)] * 10 + [("abc", 2, 1)] * 5),
        "Line 12: x1 is 'abc', which is not a number",
    ),
    "one class": (csv_bytes([(i, i, 1) for i in range(20)]), "a classifier needs at least 2 classes"),
    "a million rows": (csv_bytes([(i % 10, 1, i % 2) for i in range(1_000_000)]), "this lesson takes files up to 2 MB"),
    "over the row limit": (csv_bytes([(i % 10, 1, i % 2) for i in range(6000)]), "at most 5,000"),
    "not a CSV": (bytes(range(256)) * 4, "This is not a CSV text file"),
    "wrong columns": (
        csv_bytes([(1, 2, 3)] * 12, header="a,b,c"),
        "needs columns named x1, x2 and label; it has: a, b, c",
    ),
    "missing label": (csv_bytes([(1, 2, 0), (2, 3, 1)] * 6 + [(1, 2, "")]), "Line 14 has no label"),
    "too many classes": (csv_bytes([(i, i, i % 7) for i in range(30)]), "7 different labels"),
    "too few points": (csv_bytes([(1, 2, 0), (2, 1, 1)]), "needs at least 10"),
    "infinite value": (csv_bytes([(1, 2, 0), (2, 1, 1)] * 6 + [("inf", 1, 0)]), "x1 is 'inf', which is not a number"),
}


@pytest.mark.parametrize("case", BAD_UPLOADS, ids=list(BAD_UPLOADS))
def test_a_bad_upload_gets_a_clear_message(case):
    raw, message = BAD_UPLOADS[case]
    with pytest.raises(playground.DataError) as error:
        playground.read_points_csv(raw, "bad.csv")
    assert message in str(error.value)


def test_a_header_of_150000_columns_is_refused_by_its_shape_with_a_short_message():
    header = ",".join(f"c{i}" for i in range(150_000))
    raw = (header + "\n" + ",".join("1" for _ in range(150_000)) + "\n").encode()
    assert 1_000_000 < len(raw) < playground.MAX_UPLOAD_BYTES
    with pytest.raises(playground.DataError) as refused:
        playground.read_points_csv(raw, "wide.csv")
    assert "150,000 columns" in str(refused.value) and len(str(refused.value)) < 300
    with pytest.raises(playground.DataError, match="characters long"):
        playground.read_points_csv(b"x1,x2,label\n" + b"1" * 20_000 + b",2,a\n" + b"1,2,b\n" * 20, "long.csv")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-8-sig"])
def test_utf16_and_utf8_bom_csvs_read_like_plain_ones(encoding):
    text = "x1,x2,label\n" + "\n".join(f"{i},{i % 7 - 3.5},{'chat' if i % 3 else 'chièn'}" for i in range(40)) + "\n"
    raw = text.encode(encoding)
    if encoding == "utf-16-le":
        raw = b"\xff\xfe" + raw  # what a spreadsheet's "Unicode text" export writes
    upload = playground.read_points_csv(raw, "unicode.csv")
    assert upload.classes == ("class chat", "class chièn") and len(upload.points) == 40


def test_a_semicolon_or_tab_separated_file_reads_too():
    for sep in (";", "\t"):
        raw = (f"x1{sep}x2{sep}label\n" + "".join(f"{i}{sep}{i % 5}{sep}{i % 2}\n" for i in range(30))).encode()
        assert len(playground.read_points_csv(raw, "sep.csv").points) == 30
