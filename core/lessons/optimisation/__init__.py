"""Optimisation: optimisers racing on loss surfaces, then training a real network; overfitting and its remedies
(regularisation, data augmentation); batch normalisation; hyperparameter search."""

from core.lessons.optimisation import augmentation, batchnorm, network, regularisation, search, surfaces

BOXES = (surfaces.BOX, network.BOX, regularisation.BOX, augmentation.BOX, batchnorm.BOX, search.BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
