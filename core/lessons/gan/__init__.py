"""GAN training: the losses and tricks, the 2-D duel and the image GAN."""

from core.lessons.gan import gan2d, imagegan

BOXES = (gan2d.BOX, imagegan.BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
