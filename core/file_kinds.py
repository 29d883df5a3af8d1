"""What a path that is not a regular file or a folder is, in words a person knows."""

from __future__ import annotations

import errno
import os
import stat

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def kind_of_mode(mode: int) -> str:
    """``a FIFO (named pipe)``, ``a character device``, … for a stat mode."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return "a special file"


def describe_odd_entry(path: str) -> str:
    """Why ``path``, neither a regular file nor a folder, is not read: what it is, or where its
    symbolic link leads (a special file, nowhere, or back to itself)."""
    try:
        link = os.lstat(path)
    except OSError as exc:
        return f"cannot be looked at: {exc.strerror or exc}"
    if not stat.S_ISLNK(link.st_mode):
        return f"{kind_of_mode(link.st_mode)}, not a regular file"
    try:
        target = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link that leads back to itself"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "a broken symbolic link"
        return f"a symbolic link that cannot be followed: {exc.strerror or exc}"
    return f"a symbolic link to {kind_of_mode(target.st_mode)}, not a regular file"
