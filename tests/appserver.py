"""Starting the real app and headless Debian chromium: shared by the browser tests and the benchmarks."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
APP_ENTRY = "app.py"
"""What `make run` starts: Home.py's app, with the server's warm-up at start."""
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(port: int, env: dict | None = None, entry: str = APP_ENTRY) -> subprocess.Popen:
    """`streamlit run app.py` (or another `entry`) on a local port; returns once it answers its health check. Its
    log goes to a file (a pipe nobody reads would block the server once full)."""
    log = tempfile.NamedTemporaryFile(prefix=f"edl-app-{port}-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            entry,
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
        ],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the app did not start: " + pathlib.Path(log.name).read_text()[-2000:])


LIVE_TITLE = """key => { const host = document.querySelector('.st-key-' + key + ' .edl-live');
  if (!host) return '';
  const canvas = host.querySelector('canvas.edl-live-canvas');
  const onCanvas = canvas.style.display === 'block' && canvas.style.position !== 'absolute';
  if (onCanvas) return canvas.getAttribute('aria-label') || '';
  return host.querySelector('.gtitle')?.textContent || ''; }"""
"""The title of the live chart keyed `key` as the page shows it: drawn on its canvas while its run trains (the
canvas's label), by plotly.js otherwise."""


def live_title(page, key: str) -> str:
    return page.evaluate(LIVE_TITLE, key)


def watch_frames(page, chart_selector: str, seconds: float) -> dict:
    """Sample the page every 20 ms for `seconds`: how many samples there were, in how many some element
    was faded (Streamlit dims what a rerun has not redrawn yet), and in how many the chart matching
    `chart_selector` was missing or had no height (a blank frame while Streamlit remounts it)."""
    page.evaluate(
        """selector => { window.__frames = {samples: 0, faded: 0, blank: 0};
      window.__sampler = setInterval(() => {
        const f = window.__frames; f.samples++;
        const dim = [...document.querySelectorAll('[data-testid=stElementContainer]')]
          .some(e => parseFloat(getComputedStyle(e).opacity) < 0.99);
        if (dim) f.faded++;
        const chart = document.querySelector(selector);
        if (!chart || chart.getBoundingClientRect().height === 0) f.blank++; }, 20); }""",
        chart_selector,
    )
    time.sleep(seconds)
    return page.evaluate("() => { clearInterval(window.__sampler); return window.__frames; }")


def redraw_rate(page, selector: str, seconds: float) -> float:
    """How many times a second the text of the elements matching `selector` changes (sampled every
    20 ms in the page): the rate at which a live panel visibly redraws."""
    page.evaluate(
        """selector => { window.__changes = 0; let last = '';
      window.__timer = setInterval(() => {
        const t = [...document.querySelectorAll(selector)].map(e => e.textContent).join('|');
        if (t !== last) { window.__changes++; last = t; } }, 20); }""",
        selector,
    )
    time.sleep(seconds)
    return page.evaluate("() => { clearInterval(window.__timer); return window.__changes; }") / seconds
