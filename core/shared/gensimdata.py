"""Text shipped inside gensim's package, read directly (importing gensim takes about a second): the Lee background
corpus, 300 news stories from the Australian Broadcasting Corporation, and gensim's other test files."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path


class MissingData(RuntimeError):
    """gensim's test data is not installed; the message says how to install it."""


def data_file(name: str) -> Path:
    """A file of gensim's bundled test data, found without importing gensim."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or spec.origin is None:
        raise MissingData("This lesson reads its text from gensim's package: run `pip install gensim`.")
    path = Path(spec.origin).parent / "test" / "test_data" / name
    if not path.is_file():
        raise MissingData(f"gensim's package lacks its test file {name}: reinstall it with `pip install gensim`.")
    return path


@functools.lru_cache(maxsize=1)
def lee_texts() -> tuple[str, ...]:
    """The Lee background corpus: one news story per line."""
    return tuple(line for line in data_file("lee_background.cor").read_text(encoding="utf-8").splitlines() if line)
