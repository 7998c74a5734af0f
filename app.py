"""The server's entry (`streamlit run app.py`): the app itself is Home.py. Here, before the server takes its first
page, the libraries every page shares are imported, and at its start a thread imports the rest of what pages need,
so a class arriving at a server nobody has opened yet does not wait for it."""

import threading
from contextlib import asynccontextmanager

import streamlit as st

from core.ui.layout import import_shared_libraries, warm_server

import_shared_libraries()  # not in the thread: a page drawing a chart meanwhile would find pandas half-imported


@asynccontextmanager
async def _warm_at_start(_app):
    threading.Thread(target=warm_server, name="edl-server-warm-up", daemon=True).start()
    yield


app = st.App("Home.py", lifespan=_warm_at_start)
