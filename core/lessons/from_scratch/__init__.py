"""A network from scratch: a deep-learning framework written out in NumPy (`miniflow`), a graph a student writes,
stepped through and trained (`framework`); logistic regression as the smallest network (`logistic`); a two-layer
NumPy network predicting bike rentals, with its Keras twin (`regression`)."""

from core.lessons.from_scratch import framework, logistic, regression

BOXES = (framework.BOX, logistic.BOX, regression.BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
