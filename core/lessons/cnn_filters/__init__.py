"""CNN filter viewer: convolution by hand and a live convolutional network."""
