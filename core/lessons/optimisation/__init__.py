"""Optimisation: optimisers racing on loss surfaces, then training a real network; overfitting and its remedies."""

from core.lessons.optimisation import network, regularisation, surfaces

BOXES = (surfaces.BOX, network.BOX, regularisation.BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
