"""Vision applications: residual networks against plain ones (`residual`)."""

from core.lessons.vision_applications import residual

BOXES = (residual.BOX,)
"""The page's control boxes, in page order: each its own namespace in the URL."""
