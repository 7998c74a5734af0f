"""Explorable Deep Learning: all computation lives here, runnable without Streamlit.

Keras picks its backend when first imported, so the backend is fixed here, before any module of
the project can import keras.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")
