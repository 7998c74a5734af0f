"""Word vectors & debiasing: GloVe, the bias direction and hard debiasing, and the word lists."""

from core.lessons.word_vectors import debias

BOXES = (debias.BOX,)
"""The page's control boxes, in page order: each its own namespace in the URL."""
