"""Reading an uploaded file once: the answer (a parsed file, or why it cannot be used) is cached per
file, so neither a good nor a bad upload is parsed again on every click."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from core.engine.csvinput import DataError


@st.cache_data(max_entries=16, show_spinner=False)
def _read(kind: str, raw: bytes, name: str, _reader: Callable[[bytes, str], Any]) -> tuple[Any, str | None]:
    try:
        return _reader(raw, name), None
    except DataError as error:
        return None, str(error)


def read_once(kind: str, reader: Callable[[bytes, str], Any], raw: bytes, name: str) -> tuple[Any, str | None]:
    """(reader(raw, name), None), or (None, the student's message) when the reader refuses the file.
    `kind` names the reader in the cache key (one per lesson's upload)."""
    return _read(kind, raw, name, reader)
