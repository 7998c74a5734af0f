"""Every page renders in Streamlit's AppTest without an exception, and the engine room trains."""

import pathlib
import re

import pytest
from streamlit.testing.v1 import AppTest

from core.lessons import LESSONS
from core.lessons.word_vectors import debias
from tests.helpers import chart_figures, chart_text, chart_titles, query_value, shown, train_runs, wait_until

HOME = pathlib.Path(__file__).resolve().parents[1] / "Home.py"


def open_app(**query) -> AppTest:
    at = AppTest.from_file(str(HOME), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    return at


def test_home_shows_the_lesson_map_and_device():
    at = open_app().run()
    assert not at.exception
    assert at.title[0].value == "Explorable Deep Learning"
    text = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    for lesson in LESSONS:
        assert lesson.promise in text
    assert any("JAX computes on: **CPU**" in c.value or "JAX computes on: **" in c.value for c in at.sidebar.caption)


def test_a_server_training_elsewhere_shows_its_workers_device_without_importing_jax(monkeypatch):
    from core.ui import layout

    class TrainingElsewhere:
        trains_here = False
        training_device = None  # the first worker still starting

    backend = TrainingElsewhere()
    monkeypatch.setattr(layout, "job_registry", lambda: backend)
    monkeypatch.setattr(layout, "_server_device", lambda: pytest.fail("the server imported JAX for the label"))
    assert layout.device_line(finding=True) == layout.DEVICE_UNKNOWN_YET
    backend.training_device = "NVIDIA H200 (GPU)"
    assert layout.device_line(finding=False) == "JAX computes on: **NVIDIA H200 (GPU)**"


def test_a_lesson_still_to_come_shows_a_coming_soon_card():
    """Every lesson of the map is built now; the card is what the next one (optimisers, say) shows
    until it is, so it is tested on a lesson made up for the purpose."""

    def planned_page():
        from core.lessons import Lesson
        from core.ui.layout import coming_soon

        coming_soon(
            Lesson(
                "optimisers",
                "Optimisers",
                "Foundations",
                ":material/speed:",
                "Race SGD, momentum and Adam down the same valley.",
                "soon",
            )
        )

    at = AppTest.from_function(planned_page).run()
    assert not at.exception
    assert at.title[0].value == "Optimisers"
    assert any("Coming soon" in s.value for s in at.subheader)
    assert any("Race SGD, momentum and Adam down the same valley." in m.value for m in at.markdown)


def test_engine_room_trains_live_and_pauses():
    at = open_app(epochs="1000").run()
    at.switch_page("views/engine_room.py").run()
    assert not at.exception
    assert at.number_input(key="engine_room:check.epochs").value == 1000  # the URL set it
    at.button(key="engine_room:train").click().run()
    assert not at.exception
    job_id = at.query_params["job"][0] if isinstance(at.query_params["job"], list) else at.query_params["job"]
    from core.ui.session import job_registry

    job = job_registry().get(job_id)
    assert job is not None
    assert wait_until(lambda: job.view().epoch >= 3, timeout=60)
    at.run()  # AppTest never fires run_every: a rerun redraws the panel
    assert not at.exception
    assert any("Training: epoch" in p.proto.text for p in at.get("progress")) or chart_figures(at)
    at.button(key="engine_room:pause").click().run()
    assert job.status.value == "paused"
    at.button(key="engine_room:stop").click().run()
    assert job.wait(30) and job.status.value == "cancelled"
    at.run()
    assert not at.exception
    assert any("Stopped by a click on Stop" in shown(w.value) for w in at.warning)
    memory = [c.value for c in at.caption if "After the last run ended the server used" in c.value]
    assert memory and "MB (no memory budget is set); it has not needed to free anything yet." in memory[0]
    slots = [c.value for c in at.caption if "training slots in use" in c.value]
    assert slots and "runs train in threads of this server" in slots[0] and "`make run`" in slots[0]


def test_thirty_watchers_of_one_run_build_each_of_its_charts_once():
    """A class opening the teacher's run: the engine room's three live charts are built once for the run's
    version, not once per student."""
    from core.ui.figures import RUN_FIGURES
    from core.ui.session import job_registry

    teacher = open_app(**{"check.epochs": "3", "check.seed": "7321", "check.speed": "full speed"}).run()
    teacher.switch_page("views/engine_room.py").run()
    teacher.button(key="engine_room:train").click().run()
    job = job_registry().get(query_value(teacher, "job"))
    assert job.wait(60) and job.status.value == "finished"
    builds = RUN_FIGURES.builds
    for _ in range(30):
        student = open_app(job=job.id).run()
        student.switch_page("views/engine_room.py").run()
        assert not student.exception and len(chart_figures(student)) == 3
    assert RUN_FIGURES.builds - builds == 3


def test_a_mistyped_link_opens_with_a_warning_not_an_error():
    at = open_app(hidden="17", layers="lots").run()
    at.switch_page("views/engine_room.py").run()
    assert not at.exception
    warnings = shown(" ".join(w.value for w in at.warning))
    assert "'17' is not one of" in warnings and "'lots' is not a whole number" in warnings


def test_hide_removes_named_controls_and_projector_mode_folds_them():
    at = open_app(hide="seed,check.noise", projector="1").run()  # an old flat name and a namespaced one
    assert at.toggle(key="projector").value is True  # the sidebar switch follows the link
    at.switch_page("views/engine_room.py").run()
    assert not at.exception
    keys = {w.key for w in at.number_input} | {w.key for w in at.slider} | {w.key for w in at.select_slider}
    assert "engine_room:check.seed" not in keys and "engine_room:check.noise" not in keys
    assert "engine_room:check.layers" in keys
    assert any(e.label == "Settings" for e in at.expander)


def test_a_link_to_a_forgotten_run_says_so():
    at = open_app(job="0123456789ab").run()
    at.switch_page("views/engine_room.py").run()
    assert not at.exception
    assert any("no longer kept on the server" in shown(i.value) for i in at.info)
    assert "job" not in at.query_params


def test_backprop_walkthrough_steps_and_the_gradient_check_catches_a_planted_bug():
    at = open_app(stage="5").run()
    at.switch_page("views/perceptron.py").run()
    assert not at.exception
    assert any("Step 5 of 9 · Backward 1" in s.value for s in at.subheader)
    assert any("\\hat y - y" in latex.value for latex in at.latex)
    assert any("The gradients pass" in s.value for s in at.success)
    at.selectbox(key="perceptron:backprop.bug").select("dW2 doubled").run()
    assert not at.exception
    assert any("The gradients fail (bug: dW2 doubled)" in shown(e.value) for e in at.error)
    at.select_slider(key="perceptron:backprop.stage").set_value(9).run()
    assert any("Update" in s.value for s in at.subheader)
    assert at.query_params["backprop.bug"] in ("dW2 doubled", ["dW2 doubled"])  # the setup is in the URL


def test_the_perceptron_solves_separable_points_and_fails_on_xor():
    at = open_app().run()
    at.switch_page("views/perceptron.py").run()
    assert not at.exception
    assert any("Every point is on the right side after" in s.value for s in at.success)
    at.selectbox(key="perceptron:perceptron.data").select("XOR").run()
    assert not at.exception
    assert any("No straight line separates XOR" in shown(w.value) for w in at.warning)


def test_the_playground_trains_live_takes_a_new_rate_and_exports_keras_code():
    at = open_app(data="three arms", layers="6,4", epochs="3000", speed="slow motion").run()
    at.switch_page("views/perceptron.py").run()
    assert not at.exception
    assert at.text_input(key="perceptron:playground.layers").value == "6, 4"  # from the URL
    assert "The data: 250 training and 250 test points" in chart_text(at)
    at.button(key="perceptron:train").click().run()
    assert not at.exception
    from core.ui.session import job_registry

    job = job_registry().get(query_value(at, "job"))
    assert job is not None and job.task.config["layers"] == (6, 4)
    assert wait_until(lambda: job.view().epoch >= 5, timeout=60)
    at.select_slider(key="perceptron:playground.learning_rate").set_value(0.3).run()  # a live setting: no new run
    assert not at.exception
    assert job.view().hyperparams["learning_rate"] == 0.3 and query_value(at, "job") == job.id
    assert not any("press **Train anew**" in shown(i.value) for i in at.info)
    labels = {m.label: m.value for m in at.metric}
    assert int(labels["Epoch"]) >= 5 and labels["Test accuracy"].endswith("%")
    assert "The network: what every neuron computes" in chart_text(at)
    assert any(e.label.startswith("This network as Keras code") for e in at.expander)
    code = next(c.value for c in at.code if "model.set_weights" in c.value)
    assert "keras.layers.Dense(6, activation='relu')" in code and "SGD(learning_rate=0.3)" in code
    at.button(key="perceptron:stop").click().run()
    assert job.wait(30) and job.status.value == "cancelled"


def test_the_playground_keeps_the_last_good_layers_when_the_typed_ones_make_no_sense():
    at = open_app(layers="lots").run()
    at.switch_page("views/perceptron.py").run()
    assert not at.exception
    assert any("'lots' is not a list of whole numbers" in shown(w.value) for w in at.warning)  # the link's mistake
    at.text_input(key="perceptron:playground.layers").input("4, 99").run()
    assert not at.exception
    assert any("99 is outside 1–16. Still using 16,16,16" in shown(e.value) for e in at.error)
    at.text_input(key="perceptron:playground.layers").input("none").run()
    assert not any("Still using" in shown(e.value) for e in at.error)
    assert query_value(at, "playground.layers") == "none"


def test_the_playground_asks_for_a_csv_before_training_on_one():
    at = open_app(data="your CSV").run()
    at.switch_page("views/perceptron.py").run()
    assert not at.exception
    assert any("There is no CSV loaded yet" in shown(w.value) for w in at.warning)
    assert not any(b.key == "perceptron:train" for b in at.button)


def test_initialisation_runs_both_races_and_a_link_reattaches_both():
    at = open_app(
        course_speed="full speed", course_steps="3000", depth="8", width="16", deep_epochs="20", deep_speed="full speed"
    ).run()
    at.switch_page("views/initialisation.py").run()
    assert not at.exception
    assert at.select_slider(key="initialisation:deep.depth").value == 8  # from the URL
    ids = train_runs(at, ["initialisation/course", "initialisation/deep"], 120)
    text = " ".join(m.value for m in at.markdown)
    assert "**zeros**: each hidden layer (10, 5 units) holds a single distinct unit; the loss is 0.6931" in text
    assert "**large**: the first loss was" in text
    assert "**Glorot uniform**: the activations' standard deviation goes from" in text
    titles = chart_text(at)
    assert "Spread of each layer" in titles and "flowing back into every layer" in titles

    again = open_app(job=",".join(ids)).run()  # a reload, or the link sent to the class
    again.switch_page("views/initialisation.py").run()
    assert not again.exception
    assert sorted(query_value(again, "job").split(",")) == sorted(ids)
    assert sum("Finished" in s.value for s in again.success) == 2


def test_initialisation_refuses_a_fifth_scheme_and_keeps_the_four():
    at = open_app(deep_schemes="zeros,bogus").run()
    at.switch_page("views/initialisation.py").run()
    assert not at.exception
    assert any("'bogus' is not one of" in shown(w.value) for w in at.warning)  # the link's mistake, defaults kept
    at.pills(key="initialisation:deep.schemes").set_value(["zeros", "small", "large", "He normal", "orthogonal"]).run()
    assert not at.exception
    assert any("choose at most 4, not 5. Still using Glorot uniform,He normal" in shown(e.value) for e in at.error)


def test_vanishing_gradients_runs_both_sections_and_states_their_numbers():
    at = open_app(
        depth="6", width="16", epochs="20", speed="full speed", distance="5", time_epochs="3", time_speed="full speed"
    ).run()
    at.switch_page("views/vanishing_gradients.py").run()
    assert not at.exception
    assert any("at most 0.25^6 = 0.00024 of the gradient" in c.value for c in at.caption)  # computed by jax.grad
    train_runs(at, ["vanishing_gradients/depth", "vanishing_gradients/time"], 180)
    text = " ".join(m.value for m in at.markdown)
    assert "After epoch 20 layer 1 gets" in text
    assert "sigmoid's derivative is never above 0.25, so through 5 layers" in text
    assert "**SimpleRNN**: at the start the marked input, 5 steps back, gets" in text
    assert "**LSTM**" in text and "after epoch 3" in text
    titles = chart_text(at)
    assert "reaching each step" in titles and "Every layer" in titles and "derivative" in titles


def test_vanishing_gradients_flags_an_explosion():
    at = open_app(activation="relu", weight_scale="3.0", depth="20", epochs="5", speed="full speed").run()
    at.switch_page("views/vanishing_gradients.py").run()
    train_runs(at, ["vanishing_gradients/depth"], 120)
    assert "the gradients exploded" in " ".join(m.value for m in at.markdown)


def test_cnn_lesson_filters_by_hand_and_explains_what_does_not_fit():
    at = open_app(kernel="your own kernel", arith_size="3", arith_kernel="5", arith_padding="valid").run()
    at.switch_page("views/cnn_filters.py").run()
    assert not at.exception
    assert any("The kernel reaches over 5 pixels but the padded input is only 3 wide" in m.value for m in at.markdown)
    at.text_area(key="cnn_filters:custom_kernel").input("1 2\n3").run()
    assert not at.exception
    assert any("A kernel is square" in shown(e.value) for e in at.error)
    at.text_area(key="cnn_filters:custom_kernel").input("0 0 0\n0 2 0\n0 0 0").run()
    assert not at.error and not at.exception
    assert any("Its weights sum to 2" in c.value for c in at.caption)
    at.selectbox(key="cnn_filters:sizes.padding").select("same").run()
    assert any("⌊(3 + 4 − 1·(5 − 1) − 1) / 2⌋ + 1 = **2**" in m.value for m in at.markdown)


def test_cnn_lesson_trains_then_looks_inside():
    at = open_app(dataset="digits (8×8)", epochs="2", speed="full speed").run()
    at.switch_page("views/cnn_filters.py").run()
    assert not at.exception
    assert any("No run yet" in c.value for c in at.caption)
    train_runs(at, ["cnn_filters/train"], 180)
    text = " ".join(m.value for m in at.markdown)
    assert "After epoch 2:" in text and "of the held-out test images are classified correctly" in text
    assert "The network after epoch 2:" in text and "of the 360 test images are classified correctly" in text
    titles = chart_titles(at)
    for title in (
        "conv1's 32 filters now (epoch 2)",
        "conv2: 64 maps of 4×4 (the first 32)",
        "Confusion matrix",
        "Saliency map",
        "Accuracy per class",
    ):
        assert title in titles
    at.selectbox(key="cnn_filters:example").select(7).run()
    assert not at.exception
    assert "test image of a 7" in chart_text(at)


def test_cnn_lesson_says_when_a_data_set_cannot_be_had(tmp_path, monkeypatch):
    from core.shared import imagedata

    monkeypatch.setattr(imagedata, "TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(imagedata, "internet_reachable", lambda: False)
    at = open_app(dataset="CIFAR-10 (tensorflow-datasets)").run()
    at.switch_page("views/cnn_filters.py").run()
    assert not at.exception
    assert any("cannot reach the internet" in shown(w.value) for w in at.warning)
    at.button(key="cnn_filters/train:train").click().run()
    from core.ui.session import job_registry

    job = job_registry().get(query_value(at, "job"))
    assert job.wait(10)
    at.run()
    assert not at.exception
    assert any("CIFAR-10 (tensorflow-datasets) is not prepared on this server" in shown(e.value) for e in at.error)


def test_lstm_lesson_trains_inspects_samples_and_races():
    at = open_app(epochs="3", speed="full speed", distance="5", time_epochs="2", time_speed="full speed").run()
    at.switch_page("views/lstm_gates.py").run()
    assert not at.exception
    assert any("Train a network above" in c.value for c in at.caption)
    train_runs(at, ["lstm_gates/train", "lstm_gates/compare"], 180)
    text = " ".join(m.value for m in at.markdown)
    assert "Before training the held-out loss is 3.2" in text or "Before training the held-out loss is 3.3" in text
    assert "against ln(27) = 3.296 for a uniform guess" in text and "Names it makes up after epoch 3" in text
    assert "The **names** network after epoch 3, 32 units" in text and "Generated after '.':" in shown(text)
    assert "**GRU**: at the start the marked input, 5 steps back" in text
    titles = chart_titles(at)
    for title in (
        "Loss per character",
        "Every gate and state",
        "along your string",
        "follows the position in word",
        "next-character distribution",
        "reaching each step's input",
    ):
        assert title in titles
    at.text_input(key="lstm_gates:text:names").input("anna7").run()
    assert any("This task never saw '7'" in shown(e.value) for e in at.error) and not at.exception
    at.text_input(key="lstm_gates:text:names").input("").run()
    assert any("Type at least one character" in shown(e.value) for e in at.error)
    at.text_input(key="lstm_gates:prefix").input("x!").run()
    assert any("never saw '!'" in shown(e.value) for e in at.error) and not at.exception


def test_lstm_inspector_finds_a_bracket_counter():
    at = open_app(task="bracket depth", epochs="10", speed="full speed").run()
    at.switch_page("views/lstm_gates.py").run()
    train_runs(at, ["lstm_gates/train"], 180)
    captions = " ".join(c.value for c in at.caption)
    found = re.search(r"Unit (\d+)'s cell state has r = ([+-][\d.]+) with the bracket depth", captions)
    assert found and abs(float(found.group(2))) >= 0.9
    assert any("Train the **names** task above" in c.value for c in at.caption)  # sampling is for the language model


def test_attention_lesson_translates_dates_opens_self_attention_and_compares():
    at = open_app(
        epochs="6",
        speed="full speed",
        attention="dot product (Luong)",
        toy_epochs="6",
        toy_speed="full speed",
        compare_epochs="2",
    ).run()
    at.switch_page("views/attention.py").run()
    assert not at.exception
    train_runs(at, ["attention/dates", "attention/transformer", "attention/compare"], 300)
    text = " ".join(m.value for m in at.markdown)
    assert "After epoch 6:" in text and "held-out dates are translated exactly right" in text
    assert "The model (after epoch 6) reads “tuesday 10 march 2015” as **2015-03-10**. That is right." in shown(text)
    titles = chart_titles(at)
    assert "Where it looked to write 2015-03-10" in titles and "after epoch 6" in titles
    assert "Each head's attention" in titles and "step by step" in titles and "By length of the written date" in titles
    assert "of its attention on average" in text and "**With attention**:" in text and "**Without attention**:" in text
    at.text_input(key="attention:your_date").input("10 mäy 2015").run()
    assert any("never saw 'ä'" in shown(e.value) for e in at.error) and not at.exception
    at.text_input(key="attention:your_date").input("25th of june 2009").run()
    assert not at.exception and "reads “25th of june 2009” as **" in " ".join(m.value for m in at.markdown)


def test_word_vectors_lesson_states_the_course_numbers_and_answers_odd_input():
    at = open_app().run()
    at.switch_page("views/word_vectors.py").run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["cos(father, mother)"] == "0.8909"
    assert metrics["cos(receptionist, g) before"] == "0.3308"
    assert abs(float(metrics["cos(receptionist, g) after"])) < 1e-6
    titles = chart_titles(at)
    assert "man : king :: woman : queen" in titles and "Equalising woman – man" in titles
    text = " ".join(m.value for m in at.markdown)
    assert "49,852 words neutralised, 40 pairs equalised." in text
    tables = [d.value for d in at.dataframe]
    table = next(t for t in tables if "woman after" in t.columns)
    assert list(table.iloc[0, 1:]) == ["0.3567", "0.7004", "-0.1171", "-0.7004"]
    assert table.iloc[1, 2] == table.iloc[1, 4]
    report = next(t for t in tables if "measure" in t.columns).set_index("measure")
    assert report.loc["Direct bias, professions", "after"] == "0.0000"

    at.text_input(key="word_vectors:neighbours").input("Frogg").run()
    assert any("Did you mean 'frog'" in shown(e.value) for e in at.error) and not at.exception
    at.text_input(key="word_vectors:sim_a").input("").run()
    assert any(shown(e.value) == "Type a word." for e in at.error)
    at.text_area(key="word_vectors:projection_words").input(" ".join(["Nurse", "!?!?", "doctor,"] * 400)).run()
    assert not at.exception
    assert any("GloVe has no vector for '!?!?'" in shown(c.value) for c in at.caption)
    assert "2 words on two directions" in chart_titles(at)
    at.text_input(key="word_vectors:x_to").input("he").run()
    assert any("An axis needs two different words." in shown(e.value) for e in at.error)

    at.selectbox(key="word_vectors:vectors.direction").select(debias.PAPER_DIRECTION).run()
    assert not at.exception
    assert "g is **first principal component of 10 pairs (paper)**" in " ".join(c.value for c in at.caption)
    at.select_slider(key="word_vectors:vectors.vocabulary").set_value(10_000).run()
    assert not at.exception
    assert any(
        "'receptionist' is word number 29,747 by frequency: outside the 10,000 in use" in shown(e.value)
        for e in at.error
    )
    assert "words neutralised" in " ".join(m.value for m in at.markdown)


def test_gan_lesson_presets_trains_both_gans_and_walks():
    at = open_app(iterations="300", speed="full speed", image_epochs="2", image_speed="full speed").run()
    at.switch_page("views/gan.py").run()
    assert not at.exception and not at.error
    at.button(key="gan:preset:provoke mode collapse").click().run()
    assert at.select_slider(key="gan:duel.beta_1").value == 0.9
    assert at.slider(key="gan:duel.lr_g").value == pytest.approx(0.005)
    assert query_value(at, "duel.beta_1") == "0.9" and query_value(at, "duel.lr_g") == "0.005"
    at.button(key="gan:preset:defaults").click().run()
    assert at.select_slider(key="gan:duel.beta_1").value == 0.5 and "duel.beta_1" not in at.query_params
    train_runs(at, ["gan/2d", "gan/images"], 300)
    text = " ".join(m.value for m in at.markdown)
    assert re.search(r"Iteration 300: the generator covers \*\*\d of 8\*\* modes", text)
    assert "Epoch 2 (56 iterations of batches of 64)." in text
    assert any(s.value.startswith("Finished 300 iterations") for s in at.success)
    titles = chart_titles(at)
    assert "Iteration 300:" in titles and "Mode coverage" in titles
    assert "16 fixed latent vectors after epoch 2" in titles and "From #1 to #2 (epoch 2)" in titles
    at.selectbox(key="gan:walk_to").select(5).run()
    assert not at.exception
    assert "From #1 to #6 (epoch 2)" in chart_titles(at)


def test_gan_lesson_asks_for_points_before_training_on_a_csv():
    at = open_app(target="your CSV").run()
    at.switch_page("views/gan.py").run()
    assert not at.exception
    assert any("Upload a CSV of points to train on it." in shown(i.value) for i in at.info)
    assert not any(b.key == "gan/2d:train" for b in at.button)


def test_opening_a_shared_run_never_changes_it_and_shows_its_live_values():
    """Student A trains at learning rate 0.003; B opens A's link with the default controls (0.03). A's run
    keeps A's value and B's page shows it. B watches (A controls): B's buttons are off, B's change of a live
    value is put back with a note; A's change reaches the run and B's page follows."""
    from core.ui.session import job_registry

    a = open_app(epochs="1000", seed="4242", learning_rate="0.003").run()
    a.switch_page("views/engine_room.py").run()
    a.button(key="engine_room:train").click().run()
    job = job_registry().get(query_value(a, "job"))
    assert job.hyperparams == {"learning_rate": 0.003}

    b = open_app(job=job.id).run()
    b.switch_page("views/engine_room.py").run()
    assert not b.exception
    for _ in range(2):
        b.run()  # rerunning the page pushes nothing either
    assert job.hyperparams == {"learning_rate": 0.003}
    assert b.select_slider(key="engine_room:check.learning_rate").value == 0.003
    assert (
        b.number_input(key="engine_room:check.epochs").value == 1000
        and b.number_input(key="engine_room:check.seed").value == 4242
    )
    assert not any("Train anew" in i.value for i in b.info)  # the page shows the run's settings, not its defaults
    assert b.button(key="engine_room:pause").disabled and b.button(key="engine_room:stop").disabled
    assert b.button(key="engine_room:train").label == "Train my own copy"
    assert any("You are watching a run" in c.value for c in b.caption)

    b.select_slider(key="engine_room:check.learning_rate").set_value(0.1).run()  # a watcher cannot steer the run
    assert job.hyperparams["learning_rate"] == 0.003
    assert b.select_slider(key="engine_room:check.learning_rate").value == 0.003
    assert any("Another session controls this run" in w.value for w in b.warning)

    a.run()
    assert not a.button(key="engine_room:pause").disabled and any("You control this run" in c.value for c in a.caption)
    a.select_slider(key="engine_room:check.learning_rate").set_value(0.1).run()  # the controller can
    assert job.hyperparams["learning_rate"] == 0.1
    b.run()
    assert b.select_slider(key="engine_room:check.learning_rate").value == 0.1  # B's page follows the run

    b.button(key="engine_room:train").click().run()  # B's own copy: the same settings, a new seed, B's run
    assert not b.exception
    copy = job_registry().get(query_value(b, "job"))
    assert copy is not job and copy.task.config["seed"] != 4242 and copy.task.config["epochs"] == 1000
    assert b.number_input(key="engine_room:check.seed").value == copy.task.config["seed"]
    assert not b.button(key="engine_room:stop").disabled  # B controls its own copy
    for run in (job, copy):
        run.stop("test over")
        assert run.wait(30)


def test_the_engine_room_lists_other_sessions_runs_without_their_ids():
    from core.engine.params import config_from_query
    from core.lessons.engine_room import engine_check
    from core.ui.session import job_registry

    config, _ = config_from_query(engine_check.CONTROLS, {"seed": "9321", "epochs": "1000"})
    theirs = job_registry().submit(engine_check.task(config), "another-session")
    at = open_app(seed="9322", epochs="1000").run()
    at.switch_page("views/engine_room.py").run()
    at.button(key="engine_room:train").click().run()
    mine = query_value(at, "job")
    table = at.dataframe[0].value
    assert mine in set(table["id"]) and theirs.id not in set(table["id"])
    assert "(someone else's)" in set(table["id"])
    assert set(table["run"]) >= {"engine_room"}
    assert all(isinstance(place, str) for place in table["queue place"])  # one type per column (pyarrow)
    assert any("The table is as the page was last drawn" in c.value for c in at.caption)
    job = job_registry().get(mine)
    assert wait_until(lambda: job.view().epoch >= 2, timeout=60)
    at.button(key="engine_room:runs_refresh").click().run()  # the table follows the run only when redrawn
    row = list(at.dataframe[0].value["id"]).index(mine)
    assert int(at.dataframe[0].value["epoch"][row].split("/")[0]) >= 2
    for run in (job, theirs):
        run.stop("test over")
        assert run.wait(30)


def test_a_live_change_is_shown_as_one_and_reset_brings_the_default_back():
    from core.ui.session import job_registry

    at = open_app(epochs="1000", seed="4244").run()
    at.switch_page("views/engine_room.py").run()
    at.button(key="engine_room:train").click().run()
    job = job_registry().get(query_value(at, "job"))
    at.select_slider(key="engine_room:check.learning_rate").set_value(3.0).run()
    assert job.hyperparams["learning_rate"] == 3.0
    captions = shown(" ".join(c.value for c in at.caption))
    assert "Changed from the defaults, for this run and the next ones: Learning rate" in captions
    assert "3.0 (default 0.03)" in captions
    at.button(key="engine_room:reset").click().run()
    assert not at.exception
    assert at.select_slider(key="engine_room:check.learning_rate").value == 0.03
    assert "Changed from the defaults" not in " ".join(c.value for c in at.caption)
    assert job.wait(30)  # let go of by its only viewer: stopped


def test_a_control_link_gives_control_and_leaves_no_secret_in_the_address():
    from core.ui.session import job_registry

    teacher = open_app(epochs="1000", seed="4245").run()
    teacher.switch_page("views/engine_room.py").run()
    teacher.button(key="engine_room:train").click().run()
    job = job_registry().get(query_value(teacher, "job"))
    co = open_app(job=job.id, control=job.control_token).run()
    co.switch_page("views/engine_room.py").run()
    assert not co.exception and "control" not in co.query_params
    assert not co.button(key="engine_room:pause").disabled
    co.button(key="engine_room:pause").click().run()
    assert job.status.value == "paused"
    teacher.run()
    code = " ".join(c.value for c in teacher.code)
    assert f"job={job.id}&control={job.control_token}" in code  # the teacher's page offers the link to share
    guess = open_app(job=job.id, control="not-the-token").run()
    guess.switch_page("views/engine_room.py").run()
    assert guess.button(key="engine_room:resume").disabled  # a wrong token gives nothing
    job.stop("test over")
    assert job.wait(30)
