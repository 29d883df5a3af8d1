"""Batchmill's icons and desktop file, shipped as package data (``batchmill.resources``).

Read them with ``importlib.resources.files("batchmill.resources")``: that works the same from
a wheel, an editable install and the frozen bundle (see ``batchmill.gui.resources``)."""
