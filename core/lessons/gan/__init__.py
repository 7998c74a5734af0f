"""GAN training: the losses and tricks, the 2-D duel and the image GAN."""
