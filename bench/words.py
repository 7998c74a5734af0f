"""Benchmarks of the word-vectors lesson (part of `make bench`; `python -m bench.run words`).

For every vocabulary size the page offers, in a fresh Python process each (so that nothing is
cached): the seconds to load the vectors and the memory they add to a process that has already
imported pandas and pyarrow (as the app's server has). Then, for the
default 50,000 words and for all 400,000: hard debiasing, the check of its guarantees, and one
before-or-after report of every bias measure.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

from core.lessons.word_vectors import debias
from core.shared import glove

PROBE = """
import json, time, psutil
import pandas, pyarrow.parquet
from core.shared import glove
process = psutil.Process()
before = process.memory_info().rss
started = time.perf_counter()
vocabulary = glove.load({size})
seconds = time.perf_counter() - started
print(json.dumps({{"load_s": round(seconds, 3), "rss_added_mb": round((process.memory_info().rss - before) / 2**20, 1),
                  "vectors_mb": round(vocabulary.vectors.nbytes / 2**20, 1), "words": len(vocabulary)}}))
"""


def load_in_fresh_process(size: int) -> dict:
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", PROBE.format(size=size)], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    ]
    return {
        **runs[0],
        "load_s": statistics.median(r["load_s"] for r in runs),
        "rss_added_mb": statistics.median(r["rss_added_mb"] for r in runs),
    }


def _median_seconds(work, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def debias_costs(size: int) -> dict:
    vocabulary = glove.load(size)
    g = debias.gender_direction(vocabulary, debias.PAPER_DIRECTION)
    result = debias.hard_debias(vocabulary, g)
    check = debias.check_debiased(result, g)
    return {
        "hard_debias_s": _median_seconds(lambda: debias.hard_debias(vocabulary, g)),
        "check_s": _median_seconds(lambda: debias.check_debiased(result, g)),
        "bias_report_s": _median_seconds(lambda: debias.bias_report(vocabulary, g)),
        "largest_neutral_projection": check.largest_neutral_projection,
        "largest_distance_gap": check.largest_distance_gap,
    }


def run(browser=None) -> dict:
    results = {"load": {str(size): load_in_fresh_process(size) for size in glove.VOCABULARY_SIZES}}
    for size in (glove.DEFAULT_VOCABULARY, glove.VOCABULARY_SIZES[-1]):
        results[f"debias_{size}"] = debias_costs(size)
    vocabulary = glove.load(glove.DEFAULT_VOCABULARY)
    results["neighbours_ms"] = round(_median_seconds(lambda: vocabulary.neighbours("frog", 10), 5) * 1000, 2)
    results["analogies_from_5000_words_s"] = _median_seconds(
        lambda: debias.generated_analogies(vocabulary, debias.frequent_words(vocabulary), n=12)
    )
    return {"words": results}
