"""Perceptron & backprop: the perceptron animation, backprop by hand, and the playground."""

from core.lessons.perceptron import backprop, perceptron, playground

BOXES = (perceptron.BOX, backprop.BOX, playground.BOX, playground.DISPLAY_BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
