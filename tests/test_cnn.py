"""The CNN lesson's maths against Keras, its data sets offline, its trained networks against the
issue's targets, and uploads that are not pictures."""

import dataclasses
import io
import itertools
import time

import numpy as np
import pytest

from core.engine.backend import load_keras
from core.engine.jobs import JobRegistry, JobStatus
from core.lessons.cnn_filters import cnn, convolution
from core.shared import imagedata, pictures
from tests.helpers import png_bytes


def defaults(**changes):
    return {**{c.key: c.default for c in cnn.TRAIN_CONTROLS}, **changes}


@pytest.fixture(scope="module")
def keras():
    return load_keras()


@pytest.mark.parametrize(
    "padding, stride, dilation",
    [("valid", 1, 1), ("same", 1, 1), ("valid", 2, 1), ("same", 2, 1), ("same", 1, 2), ("valid", 1, 2)],
)
def test_hand_rolled_convolution_equals_keras_conv2d(keras, padding, stride, dilation):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(1, 11, 9, 3)).astype("float32")
    layer = keras.layers.Conv2D(4, 3, strides=stride, padding=padding, dilation_rate=dilation)
    layer.build(x.shape)
    kernel, bias = rng.normal(size=(3, 3, 3, 4)).astype("float32"), rng.normal(size=4).astype("float32")
    layer.set_weights([kernel, bias])
    expected = np.asarray(layer(x))[0]
    ours = convolution.conv2d(x[0], kernel, bias, stride=stride, padding=padding, dilation=dilation)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


def test_one_kernel_on_a_picture_is_a_one_filter_conv2d(keras):
    image = convolution.photo("coins (scikit-image)")[:40, :50]
    kernel = np.array(convolution.KERNELS["Sobel x (vertical edges)"], dtype="float64")
    layer = keras.layers.Conv2D(1, 3, padding="same", use_bias=False)
    layer.build((1, 40, 50, 1))
    layer.set_weights([kernel[:, :, None, None].astype("float32")])
    expected = np.asarray(layer(image[None, :, :, None].astype("float32")))[0, :, :, 0]
    np.testing.assert_allclose(convolution.filter_image(image, kernel), expected, atol=1e-5)


def test_the_output_size_formula_matches_keras_over_a_grid(keras):
    checked = 0
    for size, kernel, stride, padding in itertools.product(
        (3, 4, 7, 8, 11), (1, 2, 3, 5), (1, 2, 3), ("valid", "same", 1, 2)
    ):
        ours = convolution.output_size(size, kernel, stride, padding)
        x = np.zeros((1, size, size, 1), dtype="float32")
        if isinstance(padding, int):
            x = np.asarray(keras.layers.ZeroPadding2D(padding)(x))
        if ours == 0:
            assert x.shape[1] < kernel  # no room for one window, as Keras would refuse
            continue
        layer = keras.layers.Conv2D(1, kernel, strides=stride, padding=padding if isinstance(padding, str) else "valid")
        assert np.asarray(layer(x)).shape[1:3] == (ours, ours), (size, kernel, stride, padding)
        checked += 1
    for size, kernel, dilation, padding in itertools.product((7, 10), (2, 3), (2, 3), ("valid", "same")):
        layer = keras.layers.Conv2D(1, kernel, dilation_rate=dilation, padding=padding)
        out = np.asarray(layer(np.zeros((1, size, size, 1), dtype="float32"))).shape[1]
        assert convolution.output_size(size, kernel, 1, padding, dilation) == out
        checked += 1
    assert checked > 200


def test_the_arithmetic_grids_mark_one_window_and_one_output():
    padded, result = convolution.arithmetic_cells(7, 3, 2, 1, 1, 1, 2)
    assert padded.shape == (9, 9) and result.shape == (4, 4)
    assert (padded == 2).sum() == 9 and (result == 3).sum() == 1 and result[1, 2] == 3
    rows, columns = np.nonzero(padded == 2)
    assert rows.min() == 2 and columns.min() == 4  # output (1, 2) starts at stride × position
    dilated, _ = convolution.arithmetic_cells(7, 3, 1, "valid", 2, 0, 0)
    assert sorted(zip(*np.nonzero(dilated == 2))) == [(i, j) for i in (0, 2, 4) for j in (0, 2, 4)]
    assert "does not fit" in convolution.arithmetic_formula(3, 5, 1, "valid", 1)
    assert "**4**" in convolution.arithmetic_formula(7, 3, 2, 1, 1)


@pytest.mark.parametrize("mode", ["max", "average"])
def test_pooling_equals_keras(keras, mode):
    image = np.random.default_rng(1).random((9, 10))
    layer = keras.layers.MaxPooling2D(3, strides=2) if mode == "max" else keras.layers.AveragePooling2D(3, strides=2)
    expected = np.asarray(layer(image[None, :, :, None].astype("float32")))[0, :, :, 0]
    np.testing.assert_allclose(convolution.pool2d(image, 3, 2, mode), expected, rtol=1e-6)


def test_typed_kernels_parse_or_say_what_is_wrong():
    np.testing.assert_array_equal(
        convolution.parse_kernel("1 0 -1\n2, 0, -2; 1 0 -1"), [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
    )
    for text, reason in (
        ("", "rows of numbers"),
        ("1 2\n3", "square"),
        ("1 a\n2 3", "'a' is not a number"),
        ("\n".join(["1 " * 8] * 8), "at most 7×7"),
        ("1e9", "between"),
        ("nan", "between"),
    ):
        with pytest.raises(ValueError, match=reason):
            convolution.parse_kernel(text)
    assert "sum to 0" in convolution.kernel_note(np.array(convolution.KERNELS["outline (Laplacian)"]))
    assert "sum to 1" in convolution.kernel_note(np.array(convolution.KERNELS["Gaussian blur"]))


def test_every_packaged_picture_loads_offline_as_grayscale():
    for name in convolution.PHOTOS:
        image = convolution.photo(name)
        assert image.ndim == 2 and max(image.shape) <= convolution.PHOTO_SIDE, name
        assert 0 <= image.min() and image.max() <= 1 and image.std() > 0.05, name


def test_the_embedded_data_sets_load_offline():
    digits = imagedata.load(imagedata.DIGITS)
    assert digits.x_train.shape == (1437, 8, 8, 1) and digits.x_test.shape == (360, 8, 8, 1)
    sample = imagedata.load(imagedata.MNIST_SAMPLE)
    assert sample.x_train.shape == (4000, 28, 28, 1) and sample.x_test.shape == (1000, 28, 28, 1)
    for data in (digits, sample):
        assert data.x_train.dtype == np.float32 and 0 <= data.x_train.min() and data.x_train.max() == 1
        assert set(np.unique(data.y_test)) == set(range(10))  # stratified: every class is tested
        assert imagedata.availability(data.name) is None
    assert imagedata.load(imagedata.MNIST_SAMPLE, 1000).x_train.shape[0] == 1000


def _write_idx(path, array):
    import gzip

    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def test_fashion_mnist_is_read_from_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    parts = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (50, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.arange(50) % 10,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (20, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.arange(20) % 10,
    }
    for name, array in parts.items():
        _write_idx(tmp_path / name, array)
    data = imagedata._fashion_debian(30, folder=tmp_path)
    assert data.x_train.shape == (30, 28, 28, 1) and data.x_test.shape == (20, 28, 28, 1)
    assert data.class_names[9] == "Ankle boot" and "30 of its 50 training images" in data.source
    np.testing.assert_array_equal(data.x_test[..., 0] * 255, parts["t10k-images-idx3-ubyte.gz"])
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x14" + bytes(5))
    with pytest.raises(imagedata.DatasetUnavailable, match="cut short"):
        imagedata._fashion_debian(30, folder=tmp_path)
    started = time.perf_counter()
    with pytest.raises(imagedata.DatasetUnavailable, match="apt-get install dataset-fashion-mnist"):
        imagedata._fashion_debian(30, folder=tmp_path / "missing")
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    "name, shape, classes",
    [
        ("MNIST (tensorflow-datasets)", (28, 28, 1), "9"),
        ("Fashion-MNIST (tensorflow-datasets)", (28, 28, 1), "Ankle boot"),
        ("CIFAR-10 (tensorflow-datasets)", (32, 32, 3), "truck"),
    ],
)
def test_tensorflow_datasets_loading_code_runs_on_mock_data(name, shape, classes):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=24):
        data = imagedata._tfds(name, train_limit=16)
    assert data.x_train.shape == (16, *shape) and data.x_test.shape == (24, *shape)
    assert data.x_train.dtype == np.float32 and 0 <= data.x_train.min() and data.x_train.max() <= 1
    assert data.class_names[-1] == classes and set(np.unique(data.y_train)) <= set(range(10))


def test_an_unprepared_download_fails_fast_offline_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(imagedata, "TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(imagedata, "NETWORK_URL", "https://10.255.255.1:9/")  # no HTTPS server will ever answer
    imagedata._network_checked.clear()
    started = time.perf_counter()
    message = imagedata.availability("CIFAR-10 (tensorflow-datasets)")
    assert time.perf_counter() - started < 2.0
    assert "cannot reach the internet" in message and "TFDS_DATA_DIR" in message
    with pytest.raises(imagedata.DatasetUnavailable, match="cannot reach the internet"):
        imagedata._tfds("MNIST (tensorflow-datasets)", 100)
    assert time.perf_counter() - started < 2.0  # the answer is remembered, not asked again
    imagedata._network_checked.clear()


def test_a_run_on_an_unavailable_data_set_fails_at_once_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(imagedata, "TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(imagedata, "internet_reachable", lambda: False)
    registry = JobRegistry(max_running=1)
    job = registry.submit(cnn.train_task(defaults(dataset="MNIST (tensorflow-datasets)")), "student")
    assert job.wait(10)
    assert job.status == JobStatus.FAILED and job.view().message.startswith(
        "MNIST (tensorflow-datasets) is not prepared"
    )


def train(config, timeout=600):
    registry = JobRegistry(max_running=1)
    job = registry.submit(cnn.train_task(config), "test")
    assert job.wait(timeout)
    assert job.status == JobStatus.FINISHED, job.view().message
    return job


@pytest.fixture(scope="module")
def digits_run():
    config = defaults(dataset=imagedata.DIGITS, epochs=20, speed="full speed")
    return config, train(config)


def test_the_default_data_leaves_feature_maps_worth_looking_at():
    """The 8×8 digits' maps shrank to 4×4 and 2×2; the MNIST sample's are 28×28, 14×14 and 7×7."""
    config = defaults()
    assert config["dataset"] == imagedata.MNIST_SAMPLE and imagedata.MNIST_SAMPLE in imagedata.EMBEDDED
    model = cnn.build_model(config, (28, 28, 1), 10)
    shapes = [tuple(layer.output.shape[1:3]) for layer in model.layers if layer.name.startswith(("conv", "pool"))]
    assert shapes == [(28, 28), (14, 14), (14, 14), (7, 7)]


def test_the_digits_cnn_reaches_97_percent(digits_run):
    config, job = digits_run
    view = job.view()
    assert view.history[-1]["val_accuracy"] >= 0.97
    inspector = cnn.Inspector(config, job.result["weights"])
    assert inspector.accuracy == pytest.approx(view.history[-1]["val_accuracy"], abs=1e-6)


def test_the_mnist_sample_cnn_reaches_95_percent():
    job = train(defaults(dataset=imagedata.MNIST_SAMPLE, epochs=5, speed="full speed"))
    assert job.view().history[-1]["val_accuracy"] >= 0.95


def test_snapshots_hold_the_shapes_keras_reports(keras, digits_run):
    config, job = digits_run
    shot = job.view().snapshot
    model = cnn.build_model(config, (8, 8, 1), 10)
    keras_shapes = [tuple(model.get_layer(name).output.shape[1:]) for name in shot.layer_names]
    assert shot.layer_names == ["conv1", "pool1", "conv2", "pool2"]
    assert shot.layer_shapes == keras_shapes == [(8, 8, 32), (4, 4, 32), (4, 4, 64), (2, 2, 64)]
    for maps, shape in zip(shot.feature_maps, keras_shapes):
        assert maps.shape == (10, *shape[:2], min(shape[2], cnn.MAX_MAPS_PER_LAYER))
    assert shot.filters.shape == shot.initial_filters.shape == (3, 3, 1, 32)
    assert cnn.filter_change(shot) > 0.1
    np.testing.assert_allclose(shot.probabilities.sum(axis=1), 1, rtol=1e-5)
    labels = imagedata.load(imagedata.DIGITS).y_test
    assert list(labels[shot.examples]) == list(range(10))  # one test image of each class, in order


def test_the_inspector_measures_the_trained_network(digits_run):
    config, job = digits_run
    inspector = cnn.Inspector(config, job.result["weights"])
    matrix = inspector.confusion()
    assert matrix.sum() == 360 and np.trace(matrix) == round(inspector.accuracy * 360)
    np.testing.assert_allclose(inspector.per_class_accuracy(), np.diag(matrix) / matrix.sum(axis=1))
    mistakes = inspector.confident_mistakes(5)
    assert np.all(inspector.predicted[mistakes] != inspector.data.y_test[mistakes])
    confidence = inspector.probabilities[mistakes, inspector.predicted[mistakes]]
    assert np.all(np.diff(confidence) <= 0)
    lines = cnn.inspection_findings(inspector)
    assert lines[0].startswith(f"{inspector.accuracy:.1%} of the 360 test images")


def test_saliency_is_the_gradient_of_the_class_score(digits_run):
    config, job = digits_run
    inspector = cnn.Inspector(config, job.result["weights"])
    image = inspector.data.x_test[3].astype("float64")
    k = int(inspector.predicted[3])
    saliency = inspector.saliency(image, k)
    assert saliency.shape == image.shape[:2] and saliency.max() > 0
    step = 1e-3
    for row, column in ((3, 3), (4, 2), (2, 5)):  # a central difference of the class's logit, pixel by pixel
        up, down = image.copy(), image.copy()
        up[row, column, 0] += step
        down[row, column, 0] -= step
        logits = np.asarray(inspector._logits(np.stack([up, down]).astype("float32")), dtype="float64")
        numeric = (logits[0, k] - logits[1, k]) / (2 * step)
        assert abs(numeric) == pytest.approx(saliency[row, column], rel=0.02, abs=2e-3)


def test_uploads_that_are_not_usable_pictures_get_clear_messages():
    from PIL import Image

    shape = (28, 28, 1)
    cases = {
        b"": "empty",
        b"hello, this is text\n" * 10: "not a picture",
        png_bytes(20000, 20000): "too large",
        png_bytes(8000, 6000): "8,000×6,000 pixels, too large",
        b"x" * (pictures.MAX_UPLOAD_BYTES + 1): "MB",
    }
    good = io.BytesIO()
    Image.new("L", (64, 64), 0).save(good, format="PNG")
    cases[good.getvalue()[:60]] = "damaged or cut short"
    for content, reason in cases.items():
        with pytest.raises(ValueError, match=reason):
            cnn.prepare_upload(content, shape)


def test_an_upload_becomes_what_the_model_reads():
    from PIL import Image, ImageDraw

    drawing = Image.new("RGB", (300, 200), "white")
    ImageDraw.Draw(drawing).ellipse((110, 40, 190, 160), outline="black", width=20)
    raw = io.BytesIO()
    drawing.save(raw, format="JPEG")
    image, notes = cnn.prepare_upload(raw.getvalue(), (28, 28, 1))
    assert image.shape == (28, 28, 1) and image.dtype == np.float32
    assert any("inverted" in note for note in notes)  # dark ink on white becomes light on black, like MNIST
    assert image[0, 0, 0] < 0.1 and image.max() > 0.5
    colour, notes = cnn.prepare_upload(raw.getvalue(), (32, 32, 3))
    assert colour.shape == (32, 32, 3) and not any("inverted" in note for note in notes)


def test_before_its_first_epoch_the_findings_say_the_filters_drawn_are_the_starting_ones():
    start = np.ones((3, 3, 1, 4), dtype="float32")
    nothing = np.array([])
    shot = cnn.CnnSnapshot(
        epoch=0,
        filters=start,
        initial_filters=start,
        layer_names=[],
        layer_shapes=[],
        examples=nothing,
        feature_maps=[],
        probabilities=nothing,
        weights=[],
        dataset="digits",
        source="",
        images=nothing,
        class_names=("0", "1"),
        image_shape=(8, 8, 1),
        batches_note="",
    )
    (line,) = cnn.training_findings(shot, None)
    assert "4 filters as drawn are the random ones it starts with" in line and "after each finished epoch" in line
    moved = cnn.training_findings(dataclasses.replace(shot, epoch=1, filters=2 * start), None)
    assert moved == ["The first layer's 4 filters have moved 100% of their size away from their random start."]
