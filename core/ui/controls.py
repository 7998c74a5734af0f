"""A lesson's controls as widgets, mirrored in the URL so that a link reproduces the setup.

Values come, in order of precedence, from the widget, the URL (when the page opens), what this
session last chose on the page, and the control's default. Controls named in `hide=` are not
drawn and keep their URL or default value; a URL value that makes no sense falls back to the
default with a visible note instead of an error.
"""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from core.engine.params import Control, ControlBox
from core.engine.text import markdown_literal
from core.ui.projector import projector_enabled

ADOPTED_KEY = "controls:adopted"


def adopt_values(box: ControlBox, values: dict[str, Any]) -> None:
    """Show these values (by control key) in the box's controls on the next run: a run's live values,
    set by whoever controls it, replace what this page's controls held."""
    st.session_state.setdefault(ADOPTED_KEY, {}).setdefault(box.name, {}).update(values)


def reset_live_values(box: ControlBox, keys) -> None:
    """Bring these controls of the box (by control key) back to their defaults on the next run."""
    defaults = {c.key: c.default for c in box.controls}
    adopt_values(box, {key: defaults[key] for key in keys if key in defaults})


def widget_key(lesson: str, box: ControlBox, key: str) -> str:
    """The session-state key of a control's widget (`<lesson>:<box>.<key>`)."""
    return f"{lesson}:{box.name}.{key}"


def lesson_controls(lesson: str, box: ControlBox) -> dict[str, Any]:
    """Draw a box of controls (folded away in projector mode) and return its config. A page may have
    several boxes, one per section, each its own namespace in the URL."""
    query = dict(st.query_params)
    controls = box.controls
    saved_key = f"config:{lesson}:{box.name}"
    widget_keys = [widget_key(lesson, box, c.key) for c in controls]
    if saved_key not in st.session_state or any(key not in st.session_state for key in widget_keys):
        # The page has just opened (Streamlit drops the state of widgets a run did not draw).
        url_config, problems = box.config_from_query(query)
        saved = st.session_state.get(saved_key, {})
        from_url = set(box.entries(query))
        start = {c.key: url_config[c.key] if c.key in from_url else saved.get(c.key, c.default) for c in controls}
        for key, control in zip(widget_keys, controls):
            st.session_state[key] = _widget_value(control, start[control.key])
        st.session_state[saved_key] = start
        st.session_state[f"problems:{saved_key}"] = problems

    adopted = st.session_state.get(ADOPTED_KEY, {}).get(box.name, {})
    for key, control in zip(widget_keys, controls):
        if control.key in adopted:
            st.session_state[key] = _widget_value(control, adopted.pop(control.key))

    hidden = box.hidden(query)
    for problem in st.session_state.get(f"problems:{saved_key}", []):
        st.warning(
            f"This link asked for something the lesson can't do. {markdown_literal(problem, None)}",
            icon=":material/link:",
        )

    visible = [c for c in controls if c.key not in hidden]
    frame = st.expander(box.title, expanded=False) if projector_enabled() else st.container(border=True)
    previous = st.session_state[saved_key]
    config = {}
    wide = [c for c in visible if c.kind == "multi"]  # a row of choices needs the box's whole width
    grid = [c for c in visible if c.kind != "multi"]
    with frame:
        for control in wide:
            _widget(widget_key(lesson, box, control.key), control)
        columns = st.columns(min(4, max(1, len(grid))))
        for index, control in enumerate(grid):
            with columns[index % len(columns)]:
                _widget(widget_key(lesson, box, control.key), control)
        for key, control in zip(widget_keys, controls):
            try:
                config[control.key] = _config_value(control, st.session_state[key])
            except ValueError as error:
                config[control.key] = previous[control.key]
                st.error(
                    markdown_literal(f"{error}. Still using {control.format(previous[control.key])}.", None),
                    icon=":material/edit_off:",
                )
        changed = [c for c in controls if c.live and config[c.key] != c.default]
        if changed:
            st.caption(
                ":material/bolt: Changed from the defaults, for this run and the next ones: "
                + "; ".join(
                    f"{markdown_literal(c.label)} {markdown_literal(c.format(config[c.key]))} "
                    f"(default {markdown_literal(c.format(c.default))})"
                    for c in changed
                )
                + ". **Reset** brings them back."
            )
    st.session_state[saved_key] = config
    _write_url(box, config, query)
    return config


def _widget_value(control: Control, value: Any) -> Any:
    """A config value as its widget holds it (a list for pills, text for a list of numbers)."""
    if control.kind == "multi":
        return list(value)
    if control.kind == "ints":
        return ", ".join(map(str, value)) if value else "none"
    if control.kind == "text":
        return value.replace("/", "\n")
    return value


def _config_value(control: Control, value: Any) -> Any:
    """A widget's value as config; ValueError (with the reason) for typed text that makes no sense."""
    if control.kind == "multi":
        return control.parse(",".join(map(str, value or [])))
    if control.kind in ("ints", "text"):
        return control.parse(value)
    return value


def _widget(key: str, control: Control) -> None:
    label = control.label + (" :material/bolt:" if control.live else "")
    help_text = control.help or ("Can change while a run trains." if control.live else None)
    if control.kind == "select" and all(isinstance(o, (int, float)) for o in control.options):
        st.select_slider(label, options=list(control.options), key=key, help=help_text)
    elif control.kind == "select":
        st.selectbox(label, options=list(control.options), key=key, help=help_text)
    elif control.kind == "toggle":
        st.toggle(label, key=key, help=help_text)
    elif control.kind == "multi":
        st.pills(label, options=list(control.options), selection_mode="multi", key=key, help=help_text)
    elif control.kind == "ints":
        st.text_input(label, key=key, help=help_text, placeholder="e.g. 4, 2")
    elif control.kind == "text":
        st.text_area(label, key=key, help=help_text, max_chars=int(control.max) if control.max else None, height=150)
    elif control.kind == "int":
        st.number_input(label, min_value=int(control.min), max_value=int(control.max), step=1, key=key, help=help_text)
    else:
        decimals = max(2, -math.floor(math.log10(control.step))) if control.step else 2
        st.slider(
            label,
            min_value=float(control.min),
            max_value=float(control.max),
            step=control.step,
            key=key,
            help=help_text,
            format=f"%.{decimals}f",
        )


def _write_url(box: ControlBox, config: dict[str, Any], query: dict[str, str]) -> None:
    """Rewrite this box's entries (non-defaults only, namespaced; an old flat entry becomes its namespaced
    one) and keep every other entry of the URL."""
    wanted = {k: v for k, v in query.items() if not box.owns(k)}
    wanted.update(box.query_from_config(config))
    if wanted != query:
        st.query_params.from_dict(wanted)
