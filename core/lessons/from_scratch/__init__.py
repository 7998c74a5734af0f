"""A network from scratch: a deep-learning framework written out in NumPy (`miniflow`), a graph a student writes,
stepped through and trained (`framework`); logistic regression as the smallest network (`logistic`)."""

from core.lessons.from_scratch import framework, logistic

BOXES = (framework.BOX, logistic.BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
