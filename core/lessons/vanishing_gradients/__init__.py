"""Vanishing gradients: through depth with its remedies (the race through time is `core.shared.recurrent`)."""
