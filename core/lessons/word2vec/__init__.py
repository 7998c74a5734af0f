"""Training word vectors and classifying text: word2vec (skip-gram and CBOW with negative sampling) learned live in
Keras from a small news corpus, beside gensim's Word2Vec and the shipped GloVe (`word2vec`), the corpus and the
tests (`corpus`), what the page shows besides the run (`explore`); three models classifying tweets' sentiment
(`sentiment`); a sentence answered with an emoji (`emojify`)."""

from core.lessons.word2vec import emojify, sentiment, word2vec

BOXES = (word2vec.BOX, sentiment.BOX, emojify.BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
