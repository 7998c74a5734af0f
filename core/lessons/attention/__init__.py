"""Attention heatmaps: the date translator, its comparison without attention, and a toy Transformer."""

from core.lessons.attention import attention, selfattention

BOXES = (attention.DATE_BOX, selfattention.TRANSFORMER_BOX, attention.COMPARE_BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
