"""The real server as a class meets it the moment it starts: websocket-level students (Streamlit's own protocol,
no browser) against `streamlit run app.py`."""

import asyncio

from tests.appserver import Student, free_port, run_apart, start_app


async def open_together(port: int, page: str, students: int) -> list[str]:
    """What `students` opening `page` at once see go wrong: exceptions and error alerts."""
    class_ = [Student(port, page, {}) for _ in range(students)]
    try:
        await asyncio.gather(*(student.open() for student in class_))
        return [error for student in class_ for error in student.errors]
    finally:
        for student in class_:
            await student.close()


def test_pages_with_charts_opened_as_the_server_starts_show_no_error():
    """Students opening a page of charts the moment a fresh server answers, while it warms up: its warm-up thread
    importing pandas then broke every chart being drawn ('partially initialized module pandas has no attribute
    Series': plotly finds pandas half-imported), so the shared libraries are imported before the server answers."""
    port = free_port()
    process = start_app(port)
    try:
        errors = run_apart(open_together(port, "perceptron", 3))
    finally:
        process.terminate()
        process.wait(20)
    assert errors == []
