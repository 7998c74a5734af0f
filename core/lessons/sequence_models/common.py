"""What the lesson's runs share: the seed and live Adam learning-rate controls."""

from core.engine.params import Control

SEED = Control("seed", "Seed", "int", 0, min=0, max=9999)
LEARNING_RATE = Control(
    "learning_rate", "Learning rate (Adam)", "select", 0.005, options=(0.001, 0.002, 0.005, 0.01, 0.03), live=True
)
