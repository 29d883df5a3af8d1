"""The API has the CLI's patterns (batchmill.core.patterns) and its exit-status table: ``**`` and
``ignore_case``, and a job matching no file says why, with exit_status 4."""

from __future__ import annotations

from pathlib import Path

import batchmill


def copy(src: Path, dst: Path) -> None:
    dst.write_bytes(src.read_bytes())


def test_globstar_and_ignore_case_through_the_api(tmp_path: Path) -> None:
    card = tmp_path / "card"
    for rel in ("DCIM/100/A.JPG", "DCIM/101/deep/B.JPG", "DCIM/notes.txt"):
        (card / rel).parent.mkdir(parents=True, exist_ok=True)
        (card / rel).write_text(rel)

    picked = batchmill.run(copy, card, tmp_path / "out", include=["**/*.jpg"], ignore_case=True, workers=1)
    nothing = batchmill.run(copy, card, tmp_path / "none", include=["**/*.jpg"], ignore_case=False, workers=1)

    assert (picked.done, picked.exit_status) == (2, 0)
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.JPG")) == [
        "card/DCIM/100/A.JPG", "card/DCIM/101/deep/B.JPG"]
    assert (nothing.state, nothing.total, nothing.exit_status) == ("completed", 0, 4)
    assert nothing.error is not None and nothing.error.startswith("no file matched")


def test_listed_files_under_a_root_keep_the_folder_layout(tmp_path: Path) -> None:
    root = tmp_path / "IN"
    for rel in ("a/one.txt", "b/c/two.txt", "b/skip.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)

    result = batchmill.run(copy, [root / "a/one.txt", root / "b/c/two.txt"], tmp_path / "out", root=root, workers=1)

    assert (result.done, result.exit_status) == (2, 0)
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.txt")) == [
        "IN/a/one.txt", "IN/b/c/two.txt"]
    try:
        batchmill.run(copy, [tmp_path / "elsewhere.txt"], tmp_path / "out2", root=root)
    except batchmill.JobError as exc:
        assert "is not inside --root" in str(exc)
    else:
        raise AssertionError("a file outside the root was accepted")
