"""Entry point: navigation grouped by topic, a shared sidebar, then the chosen page."""

import pathlib

import streamlit as st

import core  # noqa: F401  (KERAS_BACKEND before anything can import keras)
from core.lessons import GROUPS, LESSONS
from core.ui.layout import device_placeholder, sidebar_bottom, sidebar_top

FAVICON = (
    pathlib.Path(__file__).resolve().parent / "assets" / "favicon.png"
)  # bundled: a material icon is fetched from a CDN
st.set_page_config(page_title="Explorable Deep Learning", page_icon=str(FAVICON), layout="wide")

home = st.Page("views/home.py", title="Welcome", icon=":material/home:", default=True)
sections = {"Start here": [home]}
for group in GROUPS:
    sections[group] = [
        st.Page(lesson.page, title=lesson.title, icon=lesson.icon, url_path=lesson.slug)
        for lesson in LESSONS
        if lesson.group == group
    ]

page = st.navigation(sections, expanded=True)  # every lesson in sight: a class finds its page without a 'more'
sidebar_top()
device_slot = device_placeholder()
page.run()
sidebar_bottom(device_slot)
