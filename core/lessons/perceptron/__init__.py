"""Perceptron & backprop: the perceptron animation, backprop by hand, and the playground."""
