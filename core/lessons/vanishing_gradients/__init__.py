"""Vanishing gradients: through depth with its remedies (the race through time is `core.shared.recurrent`)."""

from core.lessons.vanishing_gradients import vanishing

BOXES = (vanishing.DEPTH_BOX, vanishing.TIME_BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
