"""Engine room: the check run a teacher starts before class."""
