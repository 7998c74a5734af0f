"""The only Streamlit-aware part of core: sidebar, projector mode, URL state, job controls, live panels."""
