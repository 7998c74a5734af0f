"""The LSTM lesson: gates recomputed from the weights against Keras, the tasks' labels, the guessing
baseline, a counting unit on the bracket task, typed input, sampling and the three-way race."""

import math

import numpy as np
import pytest

from core.engine.backend import load_keras
from core.engine.jobs import JobRegistry, JobStatus
from core.lessons.lstm_gates import lstm
from core.shared import recurrent


def defaults(**changes):
    return {**{c.key: c.default for c in lstm.TRAIN_CONTROLS}, **changes}


def train(config, timeout=300):
    job = JobRegistry(max_running=1).submit(lstm.train_task(config), "test")
    assert job.wait(timeout)
    assert job.status == JobStatus.FINISHED, job.view().message
    return job


def test_recomputed_gates_reproduce_keras_hidden_and_cell_states():
    keras = load_keras()
    rng = np.random.default_rng(3)
    units, n_in = 6, 5
    inputs = keras.Input((None, n_in))
    layer = keras.layers.LSTM(units, return_sequences=True, return_state=True)
    probe = keras.Model(inputs, layer(inputs))
    kernel, recurrent, bias = (rng.normal(scale=0.7, size=w.shape).astype("float32") for w in layer.get_weights())
    layer.set_weights([kernel, recurrent, bias])
    x = rng.normal(size=(3, 11, n_in)).astype("float32")
    sequence, last_h, last_c = (np.asarray(a) for a in probe(x))
    for row in range(3):
        gates = lstm.run_cell(x[row], kernel, recurrent, bias)
        assert np.max(np.abs(gates["hidden state h"] - sequence[row])) <= 1e-5
        assert np.max(np.abs(gates["hidden state h"][-1] - last_h[row])) <= 1e-5
        assert np.max(np.abs(gates["cell state c"][-1] - last_c[row])) <= 1e-5
        for name in ("input gate i", "forget gate f", "output gate o"):
            assert 0 <= gates[name].min() and gates[name].max() <= 1


def test_the_models_output_is_the_softmax_of_the_recomputed_hidden_states():
    task = lstm.make_task(lstm.BRACKETS, 16)
    model = lstm.build_model("LSTM", len(task.inputs), len(task.outputs), 8, 1)
    x = task.one_hot(task.x[:2])
    logits = np.asarray(model(x))
    weights = lstm.Weights.of(model)
    for row in range(2):
        ours = lstm.probabilities(
            weights, lstm.run_cell(x[row], weights.kernel, weights.recurrent_kernel, weights.bias)
        )
        theirs = np.exp(logits[row]) / np.exp(logits[row]).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_every_task_labels_its_strings_correctly():
    names = lstm.make_task(lstm.NAMES, 20)
    assert len(names.inputs) == 27 and names.generative and len(lstm.census_first_names()) > 5000
    np.testing.assert_array_equal(names.x[:, 1:], names.y[:, :-1])  # the target is the next character
    brackets = lstm.make_task(lstm.BRACKETS, 30)
    for x, y in zip(brackets.x[:50], brackets.y[:50]):
        text = "".join(brackets.inputs[i] for i in x)
        np.testing.assert_array_equal(y, lstm.bracket_depths(text))
        assert 0 <= y.min() and y.max() <= lstm.MAX_DEPTH
    recall = lstm.make_task(lstm.RECALL, 12, distance=4)
    assert np.all(recall.y[:, :4] == 0) and np.all(recall.y[:, 4:] == recall.x[:, :8] + 1)
    adding = lstm.make_task(lstm.ADDING, 20)
    for x, y in zip(adding.x[:50], adding.y[:50]):
        text = "".join(adding.inputs[i] for i in x)
        assert text.count("+") == 2 and not text.endswith("+")
        np.testing.assert_array_equal(y, lstm.marked_sum(text))


@pytest.mark.parametrize("name", lstm.TASKS)
def test_an_untrained_model_starts_at_the_guessing_loss(name):
    task = lstm.make_task(name, 24)
    (_, _), (x_test, y_test) = task.split()
    model = lstm.build_model("LSTM", len(task.inputs), len(task.outputs), 32, 0)
    lstm.compile_model(model, 0.01, "1")
    loss = model.evaluate(task.one_hot(x_test), y_test, verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(lstm.guessing_loss(task), abs=0.05)


@pytest.fixture(scope="module")
def names_run():
    return train(defaults(epochs=4, speed="full speed"))


def test_the_names_model_starts_near_ln_27_and_learns(names_run):
    view = names_run.view()
    assert view.snapshot.initial_loss == pytest.approx(math.log(27), abs=0.05)
    losses = [row["loss"] for row in view.history]
    assert losses[0] < math.log(27) and losses[-1] < losses[0] and view.history[-1]["val_loss"] < 2.6
    samples = view.snapshot.samples
    assert samples and all(set(name) <= set(lstm.LETTERS) for name in samples)


def test_a_unit_counts_brackets_after_training():
    job = train(defaults(task=lstm.BRACKETS, epochs=10, speed="full speed"))
    assert job.view().history[-1]["val_accuracy"] > 0.95
    weights, task = job.result["weights"], lstm.make_task(lstm.BRACKETS, 24)
    (_, _), (x_test, _) = task.split()
    cells, depths = [], []
    for row in x_test[:20]:
        text = "".join(task.inputs[i] for i in row)
        cells.append(
            lstm.run_cell(task.one_hot(row), weights.kernel, weights.recurrent_kernel, weights.bias)["cell state c"]
        )
        depths.append(lstm.bracket_depths(text))
    correlations = lstm.unit_correlations(np.concatenate(cells), np.concatenate(depths))
    assert np.max(np.abs(correlations)) >= 0.9


def test_typed_input_is_checked_with_reasons():
    names, brackets = lstm.make_task(lstm.NAMES, 20), lstm.make_task(lstm.BRACKETS, 20)
    with pytest.raises(ValueError, match="at least one character"):
        lstm.encode(names, "")
    with pytest.raises(ValueError, match=f"at most {lstm.MAX_INPUT}"):
        lstm.encode(names, "a" * (lstm.MAX_INPUT + 1))
    with pytest.raises(ValueError, match=r"never saw '1', '2'"):
        lstm.encode(names, "anna12")
    with pytest.raises(ValueError, match=r"never saw 'a'.*use only \( \) -"):
        lstm.encode(brackets, "(a)")
    x, notes = lstm.encode(names, "Mary.John")
    assert x.shape == (9, 27) and "lowered" in notes[0]


def test_sampling_is_seeded_and_follows_the_distribution(names_run):
    weights, task = names_run.result["weights"], lstm.make_task(lstm.NAMES, 24)
    first = lstm.sample(task, weights, ".ma", 25, 0.8, np.random.default_rng(5))
    again = lstm.sample(task, weights, ".ma", 25, 0.8, np.random.default_rng(5))
    assert first[0] == again[0] and len(first[0]) == 25 and set(first[0]) <= set(task.inputs)
    np.testing.assert_allclose(first[1].sum(axis=1), 1, rtol=1e-6)
    cold, distributions = lstm.sample(task, weights, ".", 20, 0.01, np.random.default_rng(0))
    likeliest = [task.outputs[k] for k in distributions.argmax(axis=1)]
    assert sum(a == b for a, b in zip(likeliest, cold)) >= 19  # near zero temperature: (almost) always the likeliest
    assert np.all(distributions.max(axis=1) > first[1].max(axis=1).min())


def test_the_finder_ranks_a_planted_unit_first():
    rng = np.random.default_rng(0)
    depth = lstm.bracket_depths("((()(-))()(((-)))")
    cells = rng.normal(size=(len(depth), 5))
    cells[:, 3] = 0.5 * depth + rng.normal(scale=0.05, size=len(depth))
    r = lstm.unit_correlations(cells, depth)
    assert int(np.argmax(np.abs(r))) == 3 and r[3] > 0.99
    assert np.all(lstm.unit_correlations(cells, np.zeros(len(depth))) == 0)  # a constant property matches nothing


def test_the_long_range_race_adds_a_gru():
    config = {c.key: c.default for c in lstm.COMPARE_CONTROLS}
    config.update(distance=5, epochs=2, speed="full speed")
    job = JobRegistry(max_running=1).submit(lstm.compare_task(config), "test")
    assert job.wait(300) and job.status == JobStatus.FINISHED
    shot, last = job.view().snapshot, job.view().history[-1]
    assert shot.kinds == ("LSTM", "GRU", "SimpleRNN") and shot.now.shape == (3, recurrent.SEQUENCE_LENGTH)
    lines = recurrent.time_findings(shot, last)
    assert [line.split("**")[1] for line in lines] == ["LSTM", "GRU", "SimpleRNN"]
