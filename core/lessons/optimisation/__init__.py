"""Optimisation: optimisers racing on loss surfaces (more sections to come: real networks, regularisation)."""

from core.lessons.optimisation import surfaces

BOXES = (surfaces.BOX,)
"""The page's control boxes, in page order: each its own namespace in the URL."""
