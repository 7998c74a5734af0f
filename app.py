"""The server's entry (`streamlit run app.py`): the app itself is Home.py; here, at the server's start, a thread
imports what every page needs, so a class arriving at a server nobody has opened yet does not wait for it."""

import threading
from contextlib import asynccontextmanager

import streamlit as st


@asynccontextmanager
async def _warm_at_start(_app):
    from core.ui.layout import warm_server

    threading.Thread(target=warm_server, name="edl-server-warm-up", daemon=True).start()
    yield


app = st.App("Home.py", lifespan=_warm_at_start)
