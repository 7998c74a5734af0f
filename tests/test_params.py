"""A lesson's config round-trips through the URL; bad links fall back with a readable reason."""

import pytest

from core.engine_check import CONTROLS
from core.params import Control, config_from_query, hidden_controls, query_from_config


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
