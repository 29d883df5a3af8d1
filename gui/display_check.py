"""Can a window open here? Asked before Qt is, because Qt's answer is an abort (exit 134) with
a message about plugins that does not tell an operator what to do.

On Linux, Qt opens windows through X11 (its ``xcb`` plugin) or Wayland. Three things go wrong
on servers, containers and fresh installs, and each gets its own message, pointing at the
command line (which needs no display) and, for missing libraries, at the set-up script:

- there is no display at all (``DISPLAY`` and ``WAYLAND_DISPLAY`` unset: an ssh session, cron);
- ``DISPLAY`` names an X server that does not answer;
- the X11 plugin cannot be loaded: a system library it links is missing (Qt 6.5+ needs
  ``libxcb-cursor0`` and a dozen other XCB libraries a minimal system lacks).

A platform chosen on purpose (``QT_QPA_PLATFORM=offscreen``, ``vnc``, …) is left to Qt, and so
are Windows and macOS, which always have a display for a logged-in user.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path

CLI_HINT = ("the command line needs no display: batchmill run PROCESSOR INPUT... --output DIR "
            "(batchmill --help lists the commands)")
DEPS_HINT = "install Qt's system libraries with: sh packaging/install-system-deps.sh (Debian/Ubuntu)"


def display_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """Why the window cannot open here, or None when Qt should be able to open it."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None
    platform = env.get("QT_QPA_PLATFORM", "").split(":", 1)[0].split(";", 1)[0]
    if platform and platform != "xcb":
        return None  # offscreen, wayland, vnc, eglfs…: chosen on purpose
    display, wayland = env.get("DISPLAY", ""), env.get("WAYLAND_DISPLAY", "")
    if not display:
        if wayland and not platform:
            return None  # Qt takes Wayland
        return f"there is no display here (DISPLAY is not set), so the window cannot open; {CLI_HINT}"
    missing = xcb_plugin_problem()
    if missing is not None:
        return f"the window cannot open: Qt's X11 plugin cannot be loaded ({missing}); {DEPS_HINT}; {CLI_HINT}"
    if not x_server_answers(display):
        return (f"the window cannot open: the X display {display!r} (DISPLAY) does not answer; "
                f"start an X server or set DISPLAY to one; {CLI_HINT}")
    return None


def xcb_plugin_problem() -> str | None:
    """What stops Qt's X11 plugin from loading (the loader's message), or None."""
    try:
        import PySide6
    except ImportError as exc:  # the window's own import fails later with its own message
        return f"PySide6 is not importable: {exc}"
    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists():
        return None  # another layout (a distribution's Qt): let Qt find its own plugin
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        return str(exc).replace(f"{plugin}: ", "")
    return None


def x_server_answers(display: str) -> bool:
    """Whether an X server answers at ``display`` (libxcb's own connect, as Qt will do)."""
    name = ctypes.util.find_library("xcb")
    if name is None:
        return True  # no libxcb: the plugin check has said so already, or Qt will
    xcb = ctypes.CDLL(name)
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        return bool(connection) and xcb.xcb_connection_has_error(connection) == 0
    finally:
        if connection:
            xcb.xcb_disconnect(connection)
