"""Play, Pause and a scrubbing slider for a plotly animation whose frames are named: the browser plays the
whole precomputed run, and nothing reruns on the server."""

from __future__ import annotations

from collections.abc import Sequence


def play_controls(names: Sequence[str], prefix: str, frame_ms: int) -> dict:
    """Layout entries (`updatemenus`, `sliders`, a bottom margin for them) that play the frames `names`, one every
    `frame_ms`, with the current frame's name shown after `prefix` at the slider's right end."""
    still = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}
    return {
        "updatemenus": [
            {
                "type": "buttons",
                "x": 0,
                "y": -0.08,
                "xanchor": "left",
                "yanchor": "top",
                "direction": "left",
                "buttons": [
                    {
                        "label": "▶ Play",
                        "method": "animate",
                        "args": [
                            None,
                            {
                                "frame": {"duration": frame_ms, "redraw": True},
                                "fromcurrent": True,
                                "transition": {"duration": 0},
                            },
                        ],
                    },
                    {
                        "label": "❚❚ Pause",
                        "method": "animate",
                        "args": [[None], {**still, "frame": {"duration": 0}}],
                    },
                ],
            }
        ],
        "margin": {"b": 120},  # room for the Play/Pause buttons and the slider beside them
        "sliders": [
            {
                "active": 0,
                "x": 0.22,
                "len": 0.76,
                "y": -0.05,
                "currentvalue": {"prefix": prefix, "xanchor": "right"},  # clear of the buttons
                "steps": [{"label": name, "method": "animate", "args": [[name], still]} for name in names],
            }
        ],
    }
