"""Sequence models in practice: an English-to-French translator trained live on a parallel corpus generated in the
app (`numbers`: numbers written out by num2words, in sentences), decoded greedily and by beam search
(`translation`); a character-level LSTM writing text (`generation`); a trigger-word detector on clips spoken by
eSpeak NG (`speech`, `trigger`)."""

from core.lessons.sequence_models import generation, translation, trigger

BOXES = (translation.BOX, generation.BOX, trigger.BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
