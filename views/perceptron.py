"""Lesson page (not built yet): shows what it will teach."""

from core.lessons import lesson
from core.ui.layout import coming_soon

coming_soon(lesson("perceptron"))
