"""Welcome page: what the app is and the lesson map."""

import streamlit as st

from core.lessons import GROUPS, LESSONS

st.title("Explorable Deep Learning")
st.markdown(
    "Deep learning, explained with **real Keras models trained live** while you watch. "
    "Every chart on these pages comes from a network training right now on this server, "
    "and every number is computed, never typed in."
)
st.markdown(
    "**How to use it:** pick a lesson on the left, read it top to bottom, change a setting, press **Train**, "
    "and watch. Teachers: switch on **projector mode** in the sidebar, and copy the page's address "
    "to hand out exactly the setup on your screen."
)

st.header("Lesson map")
for group in GROUPS:
    lessons = [lesson for lesson in LESSONS if lesson.group == group]
    st.subheader(group)
    columns = st.columns(3)
    for index, lesson in enumerate(lessons):
        with columns[index % 3].container(border=True):
            st.page_link(lesson.page, label=f"**{lesson.title}**", icon=lesson.icon)
            note = {
                "ready": "",
                "partial": "  \n:material/construction: *partly built*",
                "soon": "  \n:material/construction: *coming soon*",
            }[lesson.status]
            st.caption(lesson.promise + note)
