"""Reinforcement learning: tabular Q-learning and SARSA on gymnasium's grid worlds and the student's own, beside
value iteration (`tabular`); a deep Q-network learning CartPole (`dqn`)."""

from core.lessons.reinforcement import dqn, tabular

BOXES = (tabular.BOX, dqn.BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
