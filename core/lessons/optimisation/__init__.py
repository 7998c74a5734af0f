"""Optimisation: optimisers racing on loss surfaces, then training a real network (regularisation to come)."""

from core.lessons.optimisation import network, surfaces

BOXES = (surfaces.BOX, network.BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
