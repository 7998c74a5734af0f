"""Attention heatmaps: the date translator, its comparison without attention, and a toy Transformer."""
