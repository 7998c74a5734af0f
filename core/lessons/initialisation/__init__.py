"""Weight initialisation: the course experiment and the deep-network race of schemes."""
