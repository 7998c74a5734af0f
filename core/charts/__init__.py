"""Pure functions from data to figures: no models, no Streamlit."""
