"""Reinforcement learning: tabular Q-learning and SARSA on gymnasium's grid worlds, beside value iteration
(`tabular`)."""

from core.lessons.reinforcement import tabular

BOXES = (tabular.BOX,)
"""The page's control boxes, in page order: each its own namespace in the URL."""
