"""Issue 12, item 4: inputs are sacred. With ``--output`` the parent of the input folder,
``OUTPUT/X.name`` *is* the input folder: ``--overwrite replace`` rewrote every input in place (exit
0, no warning) and ``rename`` wrote ``a (1).txt`` into it. Any plan in which a job would write
over or into what it reads is refused before the job starts, naming both paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from batchmill.core.plan import PlanError, check_dropped_files, iter_plan, plan_roots
from batchmill.core.processors import get_processor
from batchmill.core.spec import JobSpec, Overwrite

pytestmark = pytest.mark.timeout(120)

UPPER = Path(__file__).resolve().parents[1] / "cli" / "scripts" / "run_upper.py"
EXIT_OK, EXIT_USAGE = 0, 2


def batchmill(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True, text=True,
                          timeout=90)


def photos_in(top: Path) -> Path:
    photos = top / "photos"
    photos.mkdir(parents=True)
    (photos / "a.txt").write_text("original\n")
    (photos / "sub").mkdir()
    (photos / "sub" / "b.txt").write_text("original b\n")
    return photos


def contents(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def prepare(spec: JobSpec) -> None:
    """What the engine checks before it accepts a job."""
    processor = get_processor(spec.processor)
    check_dropped_files(spec, processor, processor.validate(spec.params), plan_roots(spec))


def plan_all(spec: JobSpec) -> list[str | None]:
    processor = get_processor(spec.processor)
    params = processor.validate(spec.params)
    return [p.dst for p in iter_plan(spec, processor, params, plan_roots(spec), lambda note: None)]


@pytest.mark.parametrize("overwrite", ["replace", "rename", "skip"])
def test_output_the_parent_of_the_input_folder_is_refused_naming_both(tmp_path: Path, overwrite: str) -> None:
    photos = photos_in(tmp_path / "x")
    before = contents(photos)

    result = batchmill("run", "python", str(photos), "--output", str(tmp_path / "x"), "--param", f"script={UPPER}",
                       "--overwrite", overwrite)

    assert result.returncode == EXIT_USAGE, result.stderr
    assert (f"batchmill: error: the output folder {tmp_path / 'x' / 'photos'} of input {photos} is the input "
            f"folder {photos} itself" in result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    assert contents(photos) == before  # nothing rewritten, no 'a (1).txt'


def test_an_output_folder_that_reaches_the_input_through_a_symlink_is_refused(tmp_path: Path) -> None:
    photos = photos_in(tmp_path / "x")
    (tmp_path / "out").symlink_to(tmp_path / "x")

    with pytest.raises(PlanError) as caught:
        plan_roots(JobSpec("python", (str(photos),), str(tmp_path / "out"), {"script": str(UPPER)},
                           overwrite=Overwrite.REPLACE))

    assert str(caught.value).startswith(f"the output folder {tmp_path / 'out' / 'photos'} of input {photos} is "
                                        f"the input folder {photos} itself")


def test_a_dropped_file_whose_output_is_itself_is_refused(tmp_path: Path) -> None:
    photos = photos_in(tmp_path / "x")

    with pytest.raises(PlanError) as caught:
        prepare(JobSpec("python", (str(photos / "a.txt"),), str(photos), {"script": str(UPPER)},
                           overwrite=Overwrite.REPLACE))

    assert str(caught.value).startswith(f"the output {photos / 'a.txt'} of input {photos / 'a.txt'} is the input "
                                        f"{photos / 'a.txt'} itself")


def test_an_output_folder_that_holds_another_input_is_refused(tmp_path: Path) -> None:
    elsewhere = photos_in(tmp_path / "elsewhere")
    inner = tmp_path / "top" / "photos" / "deep"
    inner.mkdir(parents=True)

    with pytest.raises(PlanError) as caught:
        plan_roots(JobSpec("python", (str(elsewhere), str(inner)), str(tmp_path / "top"), {"script": str(UPPER)}))

    assert str(caught.value).startswith(f"the output folder {tmp_path / 'top' / 'photos'} of input {elsewhere} "
                                        f"holds the input {inner}")


def test_a_dropped_file_written_into_an_input_folder_is_refused(tmp_path: Path) -> None:
    photos = photos_in(tmp_path / "x")
    lone = tmp_path / "lone.txt"
    lone.write_text("lone\n")

    with pytest.raises(PlanError) as caught:
        prepare(JobSpec("python", (str(photos), str(lone)), str(photos), {"script": str(UPPER)}))

    assert str(caught.value).startswith(f"the output {photos / 'lone.txt'} of input {lone} would be written into "
                                        f"the input folder {photos}")


def test_a_final_step_that_would_write_into_an_input_folder_is_refused(tmp_path: Path) -> None:
    photos = photos_in(tmp_path / "x")
    (photos / "SHA256SUMS").write_text("an input that checksum would replace\n")
    lone = tmp_path / "lone.txt"
    lone.write_text("lone\n")

    with pytest.raises(PlanError) as caught:  # a dropped file's manifest goes to OUTPUT itself
        prepare(JobSpec("checksum", (str(photos), str(lone)), str(photos), overwrite=Overwrite.REPLACE))

    assert str(caught.value).startswith(f"the final step of 'checksum' for input {lone} would write into the "
                                        f"input folder {photos}")


def test_an_output_subfolder_linked_into_the_input_is_refused_before_a_file_is_written(tmp_path: Path) -> None:
    photos = photos_in(tmp_path / "x")
    (tmp_path / "out" / "photos").mkdir(parents=True)
    (tmp_path / "out" / "photos" / "sub").symlink_to(photos / "sub")  # left there by someone
    spec = JobSpec("python", (str(photos),), str(tmp_path / "out"), {"script": str(UPPER)},
                   overwrite=Overwrite.REPLACE)

    with pytest.raises(PlanError) as caught:
        plan_all(spec)

    assert str(caught.value) == (f"the output {tmp_path / 'out' / 'photos' / 'sub' / 'b.txt'} of input "
                                 f"{photos / 'sub' / 'b.txt'} would be written into the input folder {photos}; "
                                 "choose an output folder outside the inputs")


def test_the_api_refuses_before_any_work(tmp_path: Path) -> None:
    import batchmill as api

    photos = photos_in(tmp_path / "x")
    before = contents(photos)

    with pytest.raises(api.JobError, match="is the input folder"):
        api.run(lambda src, dst: dst.write_text("changed"), photos, tmp_path / "x", overwrite="replace")

    assert contents(photos) == before


def test_an_output_folder_equal_to_the_input_is_written_beside_the_inputs_and_never_read(tmp_path: Path) -> None:
    photos = photos_in(tmp_path / "x")
    before = contents(photos)

    first = batchmill("run", "python", str(photos), "--output", str(photos), "--param", f"script={UPPER}", "--json")
    second = batchmill("run", "python", str(photos), "--output", str(photos), "--param", f"script={UPPER}", "--json",
                       "--overwrite", "replace")

    assert (first.returncode, second.returncode) == (EXIT_OK, EXIT_OK), first.stderr + second.stderr
    assert '"total": 2' in first.stdout and '"total": 2' in second.stdout, second.stdout  # outputs never inputs
    made = contents(photos)
    assert {k: v for k, v in made.items() if not k.startswith("photos/")} == before
    assert sorted(k for k in made if k.startswith("photos/")) == ["photos/a.txt", "photos/sub/b.txt"]


def test_a_symlinked_file_in_the_input_that_leads_into_the_output_is_not_read(tmp_path: Path) -> None:
    photos = photos_in(tmp_path / "x")
    out = tmp_path / "out"
    (out / "photos").mkdir(parents=True)
    (out / "photos" / "a.txt").write_text("an old output\n")
    os.symlink(out / "photos" / "a.txt", photos / "link.txt")
    notes: list[str] = []
    spec = JobSpec("python", (str(photos),), str(out), {"script": str(UPPER)}, overwrite=Overwrite.REPLACE)
    processor = get_processor("python")

    planned = [p.src for p in iter_plan(spec, processor, processor.validate(spec.params), plan_roots(spec),
                                        notes.append)]

    assert planned == [str(photos / "a.txt"), str(photos / "sub" / "b.txt")]
    assert f"not reading {photos / 'link.txt'}: it leads into the output folder" in notes
