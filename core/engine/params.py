"""A lesson's controls as data, and their round trip through the URL's query string.

Every lesson declares its controls once, as `Control`s grouped in `ControlBox`es (one box a section
of the page). From them come the widgets (`core.ui`), the config a run is keyed by, and the query
string that lets a URL reproduce a setup: only values that differ from the defaults are written, each
under its box's namespace (`time.seed=3`), and `hide=a,b` names controls a teacher wants hidden (as
TensorFlow Playground's URL state does). Links from before the namespaces used flat names
(`time_seed=3`); a control's `was` keeps its old name, so those links still open the same setup.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.engine.text import clipped

RESERVED_PARAMS = frozenset({"hide", "projector", "job"})
"""Query parameters shared by every page; a control may not use these names."""


@dataclass(frozen=True)
class Control:
    """One control of a lesson. `kind` is 'select', 'int', 'float', 'toggle', 'multi' (a tuple of
    some `options`, at least `min` and at most `max_items` of them), 'ints' (a tuple of at most
    `max_items` whole numbers in `min`–`max`, such as the sizes of hidden layers) or 'text' (at most `max`
    characters, rows written one per line and '/' between them in the URL, checked and tidied by `validate`,
    which raises ValueError with a reason a student can act on). `live` marks a hyperparameter
    that may change while a run trains. `was` is its flat URL name in links made before boxes had
    namespaces, where that differs from its key."""

    key: str
    label: str
    kind: str
    default: Any
    options: Sequence[Any] = ()
    min: float | None = None
    max: float | None = None
    step: float | None = None
    max_items: int | None = None
    live: bool = False
    help: str = ""
    was: str = ""
    validate: Callable[[str], str] | None = None

    def __post_init__(self):
        if self.key in RESERVED_PARAMS or "." in self.key:
            raise ValueError(f"'{self.key}' is reserved for every page's own query parameters")
        if self.kind not in ("select", "int", "float", "toggle", "multi", "ints", "text"):
            raise ValueError(f"unknown control kind {self.kind!r}")
        self.parse(self.format(self.default))  # the default must survive its own round trip

    def parse(self, text: str) -> Any:
        """The value a query-string entry stands for; ValueError with a readable reason if none."""
        if self.kind == "select":
            for option in self.options:
                if str(option) == text:
                    return option
            raise ValueError(f"{self.label}: '{clipped(text)}' is not one of {', '.join(map(str, self.options))}")
        if self.kind == "toggle":
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"{self.label}: '{clipped(text)}' is neither on (1) nor off (0)")
        if self.kind == "multi":
            return self._parse_multi(text)
        if self.kind == "ints":
            return self._parse_ints(text)
        if self.kind == "text":
            return self._parse_text(text)
        number_type = int if self.kind == "int" else float
        try:
            value = number_type(text)
        except ValueError:
            raise ValueError(
                f"{self.label}: '{clipped(text)}' is not {'a whole number' if self.kind == 'int' else 'a number'}"
            ) from None
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise ValueError(f"{self.label}: {value} is outside {self.min}–{self.max}")
        return value

    def _parse_multi(self, text: str) -> tuple:
        names = [name.strip() for name in text.split(",") if name.strip() and name.strip().lower() != "none"]
        unknown = [name for name in names if name not in map(str, self.options)]
        if unknown:
            raise ValueError(f"{self.label}: '{clipped(unknown[0])}' is not one of {', '.join(map(str, self.options))}")
        chosen = tuple(option for option in self.options if str(option) in names)
        if len(chosen) < (self.min or 0):
            raise ValueError(f"{self.label}: choose at least {self.min:g}")
        if self.max_items is not None and len(chosen) > self.max_items:
            raise ValueError(f"{self.label}: choose at most {self.max_items}, not {len(chosen)}")
        return chosen

    def _parse_text(self, text: str) -> str:
        rows = "/".join(row.strip() for row in text.replace("\r", "").replace("\n", "/").split("/") if row.strip())
        if self.max is not None and len(rows) > self.max:
            raise ValueError(f"{self.label}: at most {self.max:g} characters, not {len(rows):,}")
        return self.validate(rows) if self.validate else rows

    def _parse_ints(self, text: str) -> tuple[int, ...]:
        pieces = [piece for piece in text.replace(",", " ").split() if piece.lower() != "none"]
        try:
            values = tuple(int(piece) for piece in pieces)
        except ValueError:
            raise ValueError(f"{self.label}: '{clipped(text)}' is not a list of whole numbers such as 4, 2") from None
        if self.max_items is not None and len(values) > self.max_items:
            raise ValueError(f"{self.label}: at most {self.max_items} numbers, not {len(values)}")
        outside = [
            v for v in values if (self.min is not None and v < self.min) or (self.max is not None and v > self.max)
        ]
        if outside:
            raise ValueError(f"{self.label}: {outside[0]} is outside {self.min:g}–{self.max:g}")
        return values

    def format(self, value: Any) -> str:
        if self.kind == "toggle":
            return "1" if value else "0"
        if self.kind in ("multi", "ints"):
            return ",".join(map(str, value)) if value else "none"
        return str(value)


def config_from_query(controls: Sequence[Control], query: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The config a URL describes, and a readable problem for each entry that had to fall back to
    its default (a mistyped link must still open the lesson)."""
    config, problems = {}, []
    for control in controls:
        config[control.key] = control.default
        if control.key in query:
            try:
                config[control.key] = control.parse(query[control.key])
            except ValueError as error:
                problems.append(f"{error}; using {control.format(control.default)}.")
    return config, problems


def query_from_config(controls: Sequence[Control], config: Mapping[str, Any]) -> dict[str, str]:
    """The query entries for a config: only values that differ from their defaults."""
    return {c.key: c.format(config[c.key]) for c in controls if c.key in config and config[c.key] != c.default}


def hidden_names(query: Mapping[str, str]) -> frozenset[str]:
    """The names in `hide=a,b`."""
    return frozenset(name.strip() for name in query.get("hide", "").split(",") if name.strip())


@dataclass(frozen=True)
class ControlBox:
    """The controls of one section of a page, under their own namespace in the URL (`<name>.<key>`),
    so that boxes on one page may reuse keys (each may have its `seed`) and a shared box (the race
    through time) reads the same on every page that shows it."""

    name: str
    title: str
    controls: tuple[Control, ...]
    flat: bool = True
    """Whether links made before boxes had names (`key=value`, no namespace) still open this box: so for the boxes
    of that time; a box made since (`flat=False`) reads only its namespaced entries, so that two boxes of a page
    may share keys."""

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"box name {self.name!r} must be a plain name: it is a URL namespace")
        keys = [c.key for c in self.controls]
        if len(set(keys)) != len(keys):
            raise ValueError(f"box {self.name!r} repeats a control key")

    def url_name(self, control: Control) -> str:
        return f"{self.name}.{control.key}"

    def flat_names(self) -> dict[str, str]:
        """Old flat URL name → control key, for links made before the namespaces (none for a box made since)."""
        return {c.was or c.key: c.key for c in self.controls} if self.flat else {}

    def entries(self, query: Mapping[str, str]) -> dict[str, str]:
        """This box's entries of a URL, by control key: a namespaced entry, else the control's old flat one."""
        found = {key: query[name] for name, key in self.flat_names().items() if name in query}
        found.update({c.key: query[self.url_name(c)] for c in self.controls if self.url_name(c) in query})
        return found

    def owns(self, name: str) -> bool:
        """Whether a URL entry belongs to this box (namespaced or an old flat name)."""
        return name in self.flat_names() or any(name == self.url_name(c) for c in self.controls)

    def config_from_query(self, query: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
        """The box's config a URL describes, with a readable problem for each entry that fell back."""
        return config_from_query(self.controls, self.entries(query))

    def query_from_config(self, config: Mapping[str, Any]) -> dict[str, str]:
        """The namespaced entries for a config: only values that differ from their defaults."""
        by_key = {c.key: c for c in self.controls}
        return {self.url_name(by_key[key]): text for key, text in query_from_config(self.controls, config).items()}

    def hidden(self, query: Mapping[str, str]) -> frozenset[str]:
        """Keys of the controls that `hide=` names, namespaced or by their old flat names."""
        names, flat = hidden_names(query), self.flat_names()
        return frozenset(c.key for c in self.controls if self.url_name(c) in names) | {
            flat[name] for name in names if name in flat
        }


def live_rate(label: str, default: float, options: tuple[float, ...], key: str = "learning_rate") -> Control:
    """A learning-rate select a student may change while the run trains."""
    return Control(
        key,
        label,
        "select",
        default,
        options=options,
        live=True,
        help="Change it while the run trains: the next step uses the new rate.",
    )


def live_values(controls: Sequence[Control], config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a config that may change mid-run."""
    return {c.key: config[c.key] for c in controls if c.live}


def fixed_values(controls: Sequence[Control], config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a config that defines a run (changing it needs a new run)."""
    return {c.key: config[c.key] for c in controls if not c.live}
