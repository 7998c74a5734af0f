"""Vision applications: residual networks against plain ones (`residual`); transfer learning from digits 0–4 to 5–9
(`transfer`)."""

from core.lessons.vision_applications import residual, transfer

BOXES = (residual.BOX, transfer.BOX, transfer.SWEEP_BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
