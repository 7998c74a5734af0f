"""Sequence models in practice: an English-to-French translator trained live on a parallel corpus generated in the
app (`numbers`: numbers written out by num2words, in sentences), decoded greedily and by beam search
(`translation`); a character-level LSTM writing text (`generation`)."""

from core.lessons.sequence_models import generation, translation

BOXES = (translation.BOX, generation.BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
