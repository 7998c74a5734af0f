"""Pure functions from data to figures: no models, no Streamlit."""

import core.charts.theme  # noqa: F401  (sets the template every figure starts from, before any is built)
