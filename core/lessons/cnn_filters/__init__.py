"""CNN filter viewer: convolution by hand and a live convolutional network."""

from core.lessons.cnn_filters import cnn, convolution

BOXES = (convolution.FILTER_BOX, convolution.ARITHMETIC_BOX, cnn.TRAIN_BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
