"""Weight initialisation: the course experiment and the deep-network race of schemes."""

from core.lessons.initialisation import initialisation

BOXES = (initialisation.COURSE_BOX, initialisation.DEEP_BOX)
"""The page's control boxes, in page order: each its own namespace in the URL."""
