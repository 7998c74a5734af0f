"""A lesson's config round-trips through the URL; bad links fall back with a readable reason; every
box of every page is its own URL namespace, and links made before the namespaces open the same setup."""

import importlib

import pytest

from core.engine.params import Control, ControlBox, config_from_query, hidden_names, query_from_config
from core.lessons import LESSONS
from core.lessons.engine_room.engine_check import CONTROLS

PAGE_BOXES = {lesson.slug: importlib.import_module(f"core.lessons.{lesson.slug}").BOXES for lesson in LESSONS}


def test_defaults_need_no_query_entries():
    config, problems = config_from_query(CONTROLS, {})
    assert problems == [] and query_from_config(CONTROLS, config) == {}
    assert config["learning_rate"] == 0.03 and config["hidden"] == 16


def test_a_config_survives_the_round_trip():
    config, _ = config_from_query(CONTROLS, {})
    config.update(hidden=64, layers=4, learning_rate=0.3, noise=0.35, seed=7)
    query = query_from_config(CONTROLS, config)
    assert query == {"hidden": "64", "layers": "4", "learning_rate": "0.3", "noise": "0.35", "seed": "7"}
    assert config_from_query(CONTROLS, query) == (config, [])


@pytest.mark.parametrize(
    "entry, reason",
    [
        ({"hidden": "17"}, "'17' is not one of 4, 8, 16, 32, 64"),
        ({"layers": "two"}, "'two' is not a whole number"),
        ({"layers": "60"}, "60 is outside 1–6"),
        ({"noise": "lots"}, "'lots' is not a number"),
    ],
)
def test_a_bad_entry_falls_back_to_the_default_with_a_reason(entry, reason):
    config, problems = config_from_query(CONTROLS, entry)
    key = next(iter(entry))
    assert config[key] == next(c.default for c in CONTROLS if c.key == key)
    assert len(problems) == 1 and reason in problems[0]


def test_toggles_read_the_usual_spellings():
    control = Control("dropout", "Dropout", "toggle", False)
    assert [control.parse(t) for t in ("1", "true", "on", "0", "no")] == [True, True, True, False, False]
    with pytest.raises(ValueError, match="neither on"):
        control.parse("maybe")


def test_hide_lists_the_controls_to_hide_by_namespaced_or_old_flat_name():
    assert hidden_names({"hide": "seed, noise,,"}) == {"seed", "noise"} and hidden_names({}) == frozenset()
    boxes = dict((box.name, box) for box in PAGE_BOXES["vanishing_gradients"])
    query = {"hide": "time.seed,time_epochs,depth.width,seed"}
    assert boxes["time"].hidden(query) == {"seed", "epochs"}
    assert boxes["depth"].hidden(query) == {"width", "seed"}  # the depth box's seed was flat `seed`


def test_page_parameters_are_not_usable_as_control_names():
    with pytest.raises(ValueError, match="reserved"):
        Control("job", "Job", "int", 1, min=0, max=2)


def test_layer_sizes_round_trip_and_explain_bad_text():
    layers = Control("layers", "Hidden layers", "ints", (4, 2), min=1, max=16, max_items=6)
    assert layers.parse("8, 8,4") == (8, 8, 4) and layers.parse(layers.format((3, 1))) == (3, 1)
    assert layers.parse("none") == () and layers.parse("") == () and layers.format(()) == "none"
    for text, reason in (
        ("4, x", "not a list of whole numbers"),
        ("1,2,3,4,5,6,7", "at most 6 numbers"),
        ("4, 40", "40 is outside 1–16"),
        ("0", "0 is outside"),
    ):
        with pytest.raises(ValueError, match=reason):
            layers.parse(text)


def test_text_is_tidied_row_by_row_checked_and_kept_short():
    def no_x(text: str) -> str:
        if "x" in text:
            raise ValueError("no x, please")
        return text.upper()

    grid = Control("grid", "Grid", "text", "AB/CD", max=11, validate=no_x)
    assert grid.parse("ab\r\n cd \n\n") == "AB/CD"  # a text area's lines become the URL's rows
    assert grid.parse(grid.format("AB/CD")) == "AB/CD"
    with pytest.raises(ValueError, match="no x, please"):
        grid.parse("ax\ncd")
    with pytest.raises(ValueError, match="at most 11 characters, not 14"):
        grid.parse("abc/def/ghi/jk")


def test_a_multiple_choice_keeps_the_options_order_and_needs_its_minimum():
    features = Control("features", "Input features", "multi", ("x1", "x2"), options=("x1", "x2", "x1²"), min=1)
    assert features.parse("x1²,x1") == ("x1", "x1²")
    assert features.parse(features.format(("x2", "x1²"))) == ("x2", "x1²")
    with pytest.raises(ValueError, match="'x3' is not one of"):
        features.parse("x1,x3")
    with pytest.raises(ValueError, match="choose at least 1"):
        features.parse("none")


def _other_value(control: Control):
    """A valid value that is not the control's default."""
    if control.kind == "select":
        return next(option for option in control.options if option != control.default)
    if control.kind == "toggle":
        return not control.default
    if control.kind == "multi":
        chosen = tuple(control.options[: max(int(control.min or 0), 1)])
        return chosen if chosen != tuple(control.default) else tuple(control.options[-max(int(control.min or 0), 1) :])
    if control.kind == "ints":
        return (3,) if tuple(control.default) != (3,) else (5, 2)
    if control.kind == "int":
        return int(control.default) + 1 if control.max is None or control.default < control.max else int(control.min)
    return control.min if control.default != control.min else control.max


def _changed_config(box: ControlBox) -> dict:
    return {c.key: _other_value(c) for c in box.controls}


@pytest.mark.parametrize("slug", sorted(PAGE_BOXES))
def test_every_box_of_a_page_has_its_own_namespace_and_old_flat_names_stay_unique(slug):
    boxes = PAGE_BOXES[slug]
    names = [box.name for box in boxes]
    flat = [name for box in boxes for name in box.flat_names()]
    assert len(names) == len(set(names)), names
    assert len(flat) == len(set(flat)), sorted(n for n in flat if flat.count(n) > 1)


@pytest.mark.parametrize("slug", sorted(slug for slug, boxes in PAGE_BOXES.items() if any(b.flat for b in boxes)))
def test_an_old_flat_link_and_its_namespaced_rewrite_open_the_same_setup_on_every_page(slug):
    boxes = [box for box in PAGE_BOXES[slug] if box.flat]  # a box made since has no old links
    wanted = {box.name: _changed_config(box) for box in boxes}
    old_link = {c.was or c.key: c.format(wanted[box.name][c.key]) for box in boxes for c in box.controls}
    new_link = {}
    for box in boxes:
        config, problems = box.config_from_query(old_link)
        assert (config, problems) == (wanted[box.name], []), box.name
        new_link.update(box.query_from_config(config))
    assert all(name.split(".")[0] in {box.name for box in boxes} for name in new_link)
    for box in boxes:
        assert box.config_from_query(new_link) == (wanted[box.name], []), box.name
    for name in [*old_link, *new_link]:  # a page rewriting its URL drops an entry only from its own box
        assert sum(box.owns(name) for box in boxes) == 1, name


@pytest.mark.parametrize(
    "slug, link, expected",
    [
        (
            "vanishing_gradients",
            {"epochs": "60", "time_epochs": "10", "time_speed": "full speed"},
            {"depth": {"epochs": 60}, "time": {"epochs": 10, "speed": "full speed"}},
        ),
        (
            "initialisation",
            {"course_steps": "6000", "deep_schemes": "zeros,He normal", "depth": "8"},
            {"course": {"steps": 6000}, "deep": {"schemes": ("zeros", "He normal"), "depth": 8}},
        ),
        (
            "attention",
            {"epochs": "8", "toy_epochs": "10", "compare_epochs": "3"},
            {"dates": {"epochs": 8}, "toy": {"epochs": 10}, "compare": {"epochs": 3}},
        ),
        (
            "gan",
            {"iterations": "1500", "image_epochs": "5", "image_lr_g": "0.002"},
            {"duel": {"iterations": 1500}, "images": {"epochs": 5, "lr_g": 0.002}},
        ),
        (
            "perceptron",
            {"perceptron_data": "XOR", "bp_activation": "relu", "seed": "4", "model_seed": "2"},
            {
                "perceptron": {"data": "XOR"},
                "backprop": {"activation": "relu", "seed": 4},
                "playground": {"model_seed": 2},
            },
        ),
        (
            "cnn_filters",
            {"kernel": "sharpen", "arith_kernel": "5"},
            {"filter": {"kernel": "sharpen"}, "sizes": {"kernel": 5}},
        ),
    ],
)
def test_links_handed_out_before_the_namespaces_still_read_the_same(slug, link, expected):
    for box in PAGE_BOXES[slug]:
        config, problems = box.config_from_query(link)
        changed = {key: value for key, value in config.items() if value != box.config_from_query({})[0][key]}
        assert (changed, problems) == (expected.get(box.name, {}), []), box.name


def test_a_namespaced_entry_wins_over_an_old_flat_one():
    time = dict((box.name, box) for box in PAGE_BOXES["lstm_gates"])["time"]
    assert time.config_from_query({"time_seed": "3", "time.seed": "5"})[0]["seed"] == 5
    assert time.query_from_config({**time.config_from_query({})[0], "seed": 5}) == {"time.seed": "5"}


def test_a_box_made_since_the_namespaces_reads_only_its_own_entries():
    """The optimisation page's boxes share keys (`alpha`, `optimisers`): a bare `alpha=` belongs to none of them."""
    from core.lessons.optimisation import network, surfaces

    query = {"alpha": "1.0", "race.alpha": "0.1", "network.alpha": "0.3"}
    assert surfaces.BOX.config_from_query(query)[0]["alpha"] == 0.1
    assert network.BOX.config_from_query(query)[0]["alpha"] == 0.3
    assert not surfaces.BOX.owns("alpha") and surfaces.BOX.owns("race.alpha")
    assert surfaces.BOX.hidden({"hide": "alpha"}) == frozenset()
