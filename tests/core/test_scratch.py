"""Issue 12, item 10: the workers' scratch space is the user's own. ``/tmp/batchmill-scratch``
was made 0755 by the first user and the next one got ``PermissionError`` with a traceback.

Scratch now lives in the user's cache folder, private (0700); a folder in its place that is not
the user's (another owner, a symbolic link, not a folder) is never used, and one with the wrong
mode is made private."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchmill.core.scratch import new_scratch_root, scratch_base

pytestmark = pytest.mark.timeout(120)

OTHER_UID = 12345  # a user this machine does not have: nobody's files


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The user's cache folder, and a shared temporary folder, both in tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    shared = tmp_path / "shared-tmp"
    shared.mkdir(mode=0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    return tmp_path / "cache"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def assert_private(root: Path) -> None:
    for folder in (root, root.parent):
        st = os.lstat(folder)
        assert stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid(), folder
        assert mode(folder) == 0o700, (folder, oct(mode(folder)))


def test_scratch_is_private_in_the_users_cache_folder(cache: Path) -> None:
    root = Path(new_scratch_root())

    assert scratch_base() == cache / "batchmill" / "scratch"
    assert root.parent == scratch_base()
    assert_private(root)


def test_a_scratch_folder_with_the_wrong_mode_is_made_private(cache: Path) -> None:
    base = cache / "batchmill" / "scratch"
    base.mkdir(parents=True)
    base.chmod(0o755)

    root = Path(new_scratch_root())

    assert root.parent == base
    assert_private(root)


def test_the_old_shared_folder_of_another_user_is_never_used(cache: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("making a folder owned by another user needs root")
    old = Path(tempfile.gettempdir()) / "batchmill-scratch"
    old.mkdir(mode=0o755)
    os.chown(old, OTHER_UID, OTHER_UID)

    root = Path(new_scratch_root())

    assert old not in root.parents and list(old.iterdir()) == []
    assert_private(root)


@pytest.mark.parametrize("kind", ["other owner", "symlink", "file"])
def test_a_scratch_place_that_is_not_the_users_own_is_not_used(cache: Path, tmp_path: Path, kind: str) -> None:
    base = cache / "batchmill" / "scratch"
    base.parent.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o777)
    if kind == "other owner":
        if os.getuid() != 0:
            pytest.skip("making a folder owned by another user needs root")
        base.mkdir(mode=0o777)
        os.chown(base, OTHER_UID, OTHER_UID)
    elif kind == "symlink":
        base.symlink_to(elsewhere)
    else:
        base.write_text("not a folder\n")

    root = Path(new_scratch_root())

    assert base not in root.parents and elsewhere not in root.parents
    st = os.lstat(root)
    assert st.st_uid == os.getuid() and mode(root) == 0o700  # a private folder of its own instead
    assert list(elsewhere.iterdir()) == []
    shutil.rmtree(root)


@pytest.fixture
def shared_area() -> Iterator[Path]:
    """A folder both users can reach (tmp_path is private to the test's user)."""
    area = Path(tempfile.mkdtemp(prefix="batchmill-two-users-", dir="/tmp"))
    area.chmod(0o755)
    try:
        yield area
    finally:
        shutil.rmtree(area, ignore_errors=True)


def test_a_second_user_can_run_after_the_first(shared_area: Path) -> None:
    """The reproduction itself: two real users, one shared temporary folder, one after the other."""
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("running as a second user needs root and setpriv")
    tmp = shared_area / "tmp"
    tmp.mkdir(mode=0o1777)
    tmp.chmod(0o1777)
    results = {}
    for user, uid in (("first", os.getuid()), ("second", OTHER_UID)):
        mine = shared_area / user
        (mine / "in").mkdir(parents=True)
        (mine / "in" / "a.txt").write_text("a\n")
        env = {**os.environ, "TMPDIR": str(tmp), "HOME": str(mine), "BATCHMILL_HOME": str(mine / "home")}
        env.pop("XDG_CACHE_HOME", None)
        for path in [mine, *mine.rglob("*")]:
            os.chown(path, uid, uid)
        # The second user may read and pass through any folder (this interpreter lives under /root),
        # as a user's own Python would allow, but writes only where a user may.
        prefix = [] if uid == os.getuid() else ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                                                "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
        results[user] = subprocess.run(
            [*prefix, sys.executable, "-m", "batchmill.gui.launcher", "run", "checksum", str(mine / "in"),
             "--output", str(mine / "out")], capture_output=True, text=True, timeout=90, env=env)

    for user, result in results.items():
        assert result.returncode == 0, (user, result.stderr)
        assert "Traceback" not in result.stderr
    assert (shared_area / "second" / "out" / "in" / "SHA256SUMS").exists()
