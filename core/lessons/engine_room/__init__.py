"""Engine room: the check run a teacher starts before class."""

from core.lessons.engine_room import engine_check

BOXES = (engine_check.BOX,)
"""The page's control boxes, in page order: each its own namespace in the URL."""
