"""LSTM gate inspector: sequence tasks, the LSTM trained live, its gates recomputed by hand."""
