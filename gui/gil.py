"""The window's thread shares one interpreter lock with the engine thread.

PySide releases the GIL around Qt calls and takes it back afterwards; while the
engine thread is busy in Python (planning 100,000 files, bookkeeping results),
taking it back waits for the engine to yield, by default after up to 5 ms. A
tick that makes ten Qt calls could then stall the window for 50 ms. A shorter
switch interval bounds each wait; the engine thread loses little, since it
mostly waits on pipes anyway.
"""

from __future__ import annotations

import sys

WINDOW_SWITCH_INTERVAL_S = 0.001


def share_the_gil() -> None:
    """Called once by the window's entry point, before the engine starts."""
    sys.setswitchinterval(WINDOW_SWITCH_INTERVAL_S)
