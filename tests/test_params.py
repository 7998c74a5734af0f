"""A lesson's config round-trips through the URL; bad links fall back with a readable reason."""

import pytest

from core.engine.params import Control, config_from_query, hidden_controls, query_from_config
from core.lessons.engine_room.engine_check import CONTROLS


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


def test_hide_lists_the_controls_to_hide():
    assert hidden_controls({"hide": "seed, noise,,"}) == {"seed", "noise"}
    assert hidden_controls({}) == frozenset()


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


def test_a_multiple_choice_keeps_the_options_order_and_needs_its_minimum():
    features = Control("features", "Input features", "multi", ("x1", "x2"), options=("x1", "x2", "x1²"), min=1)
    assert features.parse("x1²,x1") == ("x1", "x1²")
    assert features.parse(features.format(("x2", "x1²"))) == ("x2", "x1²")
    with pytest.raises(ValueError, match="'x3' is not one of"):
        features.parse("x1,x3")
    with pytest.raises(ValueError, match="choose at least 1"):
        features.parse("none")


def test_the_control_boxes_of_one_page_never_share_a_key():
    from core.lessons.perceptron import backprop, perceptron, playground

    keys = [
        c.key
        for box in (perceptron.CONTROLS, playground.CONTROLS, playground.DISPLAY_CONTROLS, backprop.CONTROLS)
        for c in box
    ]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
