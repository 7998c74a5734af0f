"""LSTM gate inspector: sequence tasks, the LSTM trained live, its gates recomputed by hand."""

from core.lessons.lstm_gates import lstm

BOXES = (lstm.TRAIN_BOX, lstm.COMPARE_BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
