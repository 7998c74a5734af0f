"""Starting the real app, headless Debian chromium and websocket-level students: shared by the tests and the
benchmarks."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import pathlib
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

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
    return answering(port, process, log.name)


def answering(port: int, process: subprocess.Popen, log: str) -> subprocess.Popen:
    """The server `process` once it answers its health check on `port`; killed, and its `log` told, if it never does."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the app did not start: " + pathlib.Path(log).read_text()[-2000:])


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


def run_apart(coroutine):
    """Run websocket students in a thread of their own: under Playwright's synchronous API (`make bench`, the
    browser tests' session) an event loop already runs in the main thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


PROGRESS = re.compile(r"Training: \w+ ([\d,]+) of [\d,]+ · ([\d.]+) s")
"""A run's progress text: (epoch, seconds)."""


class Student:
    """One browser tab, as the server sees it: a websocket client speaking Streamlit's own protocol (the protobuf
    BackMsg and ForwardMsg over `/_stcore/stream`). It opens a page (`page`, the lesson's url path, with a query
    string), reruns each fragment on the timer the server asks for, as a browser's does, presses buttons by their
    keys, and reads what a student would see: buttons, progress, errors. It draws nothing."""

    def __init__(self, port: int, page: str, query: dict[str, str]):
        self.url = f"ws://127.0.0.1:{port}/_stcore/stream"
        self.page = page
        self.query = urllib.parse.urlencode(query)
        self.buttons: dict[str, str] = {}
        self.fragments: dict[str, float] = {}
        self.progress: list[tuple[int, float]] = []
        self.errors: list[str] = []
        self.poll_answers: list[float] = []
        self.page_hash = ""
        self._finished = asyncio.Event()
        self._running = False
        self._socket = None
        self._tasks: list[asyncio.Task] = []
        self.watching = False
        self.polling = True

    async def open(self) -> float:
        """Connect and load the page; seconds until its first run ends."""
        started = time.perf_counter()
        self._socket = await websockets.connect(
            self.url, subprotocols=["streamlit"], max_size=None, open_timeout=60, ping_interval=None
        )
        self._tasks.append(asyncio.create_task(self._receive()))
        await self._rerun()
        return time.perf_counter() - started

    async def press(self, key: str, appear_s: float = 30.0) -> float:
        """Press the button with this key once the page shows it (a Resume appears once the run has
        paused); seconds from the press until the rerun it causes ends."""
        deadline = time.perf_counter() + appear_s
        while key not in self.buttons and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        if key not in self.buttons:
            raise RuntimeError(f"the page never offered {key} (did the run end first?)")
        return await self._rerun(widgets=[(self.buttons[key], True)])

    def watch(self) -> None:
        """Poll the live panel on the server's timer, as a browser does, until `close`; while `polling` is
        False the page stays open and asks nothing (a tab in the background)."""
        self.watching = True
        self._tasks.append(asyncio.create_task(self._poll()))

    async def close(self) -> None:
        self.watching = False
        for task in self._tasks:
            task.cancel()
        if self._socket is not None:
            await self._socket.close()

    async def poll_once(self) -> None:
        """One rerun of every fragment the page has (what a browser's timer does)."""
        for fragment in list(self.fragments):
            started = time.perf_counter()
            await self._rerun(fragment=fragment, auto=True)
            self.poll_answers.append(time.perf_counter() - started)

    async def progress_now(self) -> tuple[int, float]:
        """The run's (epoch, seconds) as a poll now reads them, once a poll of the page's own timer has ended."""
        while self._running:
            await asyncio.sleep(0.01)
        await self.poll_once()
        return self.progress[-1]

    async def _poll(self) -> None:
        while self.watching:
            interval = min(self.fragments.values(), default=1.0)
            await asyncio.sleep(interval)
            if self.polling and not self._running:
                await self.poll_once()

    async def _rerun(self, fragment: str = "", auto: bool = False, widgets=()) -> float:
        message = BackMsg()
        state = message.rerun_script
        state.query_string, state.page_name, state.page_script_hash = self.query, self.page, self.page_hash
        state.fragment_id, state.is_auto_rerun = fragment, auto
        for widget_id, value in widgets:
            widget = state.widget_states.widgets.add()
            widget.id, widget.trigger_value = widget_id, value
        self._finished.clear()
        if not fragment:
            self.buttons.clear()  # a full rerun draws the buttons the page offers now
        self._running = True
        started = time.perf_counter()
        await self._socket.send(message.SerializeToString())
        await asyncio.wait_for(self._finished.wait(), timeout=120)
        self._running = False
        return time.perf_counter() - started

    async def _receive(self) -> None:
        try:
            async for data in self._socket:
                message = ForwardMsg()
                message.ParseFromString(data)
                self._read(message)
        except websockets.ConnectionClosed as closed:
            if self.watching:
                self.errors.append(f"connection closed: {closed}")

    def _read(self, message: ForwardMsg) -> None:
        kind = message.WhichOneof("type")
        if kind == "script_finished" and message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            self._finished.set()  # a run that ends early for a rerun (st.rerun) is not the answer yet
        elif kind == "navigation":
            self.page_hash = message.navigation.page_script_hash  # a browser names its page by it from then on
        elif kind == "auto_rerun":
            self.fragments[message.auto_rerun.fragment_id] = message.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            self.fragments.clear()
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element
            shown = element.WhichOneof("type")
            if shown == "button" and "-" in element.button.id and not element.button.disabled:
                self.buttons[element.button.id.rsplit("-", 1)[-1]] = element.button.id
            elif shown == "exception":
                self.errors.append(f"exception: {element.exception.message[:200]}")
            elif shown == "alert" and element.alert.format == element.alert.ERROR:
                self.errors.append(f"error: {element.alert.body[:200]}")
            elif shown == "progress":
                found = PROGRESS.search(element.progress.text)
                if found:
                    self.progress.append((int(found.group(1).replace(",", "")), float(found.group(2))))
