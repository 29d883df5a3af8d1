"""The window's thread shares one interpreter with the engine thread.

Two things can hold that interpreter, and so the window, for tens of milliseconds:

- the interpreter lock: PySide releases the GIL around Qt calls and takes it back
  afterwards; while the engine thread is busy in Python (planning 100,000 files,
  bookkeeping results), taking it back waits for the engine to yield, by default
  after up to 5 ms. A tick that makes ten Qt calls could then stall the window
  for 50 ms. A shorter switch interval bounds each wait; the engine thread loses
  little, since it mostly waits on pipes anyway.
- the cyclic garbage collector: a full collection walks every tracked object,
  and the ~40,000 that the window's start-up leaves (modules, Qt wrappers) made
  each one take 12 ms. They live as long as the window does, so they are moved
  out of the collector's sight once the window is built.
"""

from __future__ import annotations

import gc
import sys

WINDOW_SWITCH_INTERVAL_S = 0.001


def share_the_gil() -> None:
    """Called once by the window's entry point, before the engine starts."""
    sys.setswitchinterval(WINDOW_SWITCH_INTERVAL_S)


def freeze_start_up_objects() -> None:
    """Called once the window is built: what start-up left is collected now, the rest is
    never walked again (it is still freed as usual when nothing refers to it)."""
    gc.collect()
    gc.freeze()
