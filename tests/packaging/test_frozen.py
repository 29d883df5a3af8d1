"""The frozen build really works, processes included (issue: frozen executable).

Builds the one-dir bundle with PyInstaller once per session, then runs it the
way an operator's machine would: no Python installed as far as it knows."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "packaging"))
from smoke import run_watched  # noqa: E402

pytest.importorskip("PyInstaller")
pytestmark = pytest.mark.timeout(900)

WORKERS = 2
# the workers, the main process, multiprocessing's resource tracker and the pool's guardian (which
# kills every worker's process group if the main process dies: batchmill.core.procgroup)
MAX_PROCESSES = WORKERS + 3
MAX_BUNDLE_MIB = 120


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dist")


@pytest.fixture(scope="session")
def frozen(dist: Path) -> Path:
    from build import build

    return build(dist=dist)


@pytest.fixture(scope="session")
def frozen_without_bootstrap(dist: Path) -> Path:
    from build import build

    return build(entry=REPO / "packaging" / "entry_without_bootstrap.py", name="batchmill-nobootstrap", dist=dist)


@pytest.fixture
def env(batchmill_home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return {**clean, "BATCHMILL_HOME": str(batchmill_home), "QT_QPA_PLATFORM": "offscreen"}


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "photos 2026"
    (data / "sub dir").mkdir(parents=True)
    for i in range(40):
        (data / ("sub dir" if i % 3 else "") / f"file {i:02d} ü.txt").write_text(f"content {i}\n" * i)
    yield data


def assert_bounded(watched: object) -> None:
    assert watched.max_processes <= MAX_PROCESSES, f"{watched.max_processes} processes at once"  # type: ignore[attr-defined]
    assert not watched.left_behind, watched.left_behind  # type: ignore[attr-defined]


# sha256 is the default; md5 proves the interpreter's own hashes are there (the bundle has no OpenSSL).
@pytest.mark.parametrize(("algorithm", "verifier", "manifest"),
                         [("sha256", "sha256sum", "SHA256SUMS"), ("md5", "md5sum", "MD5SUMS")])
def test_checksum_from_the_bundle(frozen: Path, folder: Path, tmp_path: Path, env: dict[str, str], algorithm: str,
                                  verifier: str, manifest: str) -> None:
    out = tmp_path / "out"
    watched = run_watched([str(frozen), "run", "checksum", str(folder), "--output", str(out),
                           "--workers", str(WORKERS), "--param", f"algorithm={algorithm}"], env=env)
    assert watched.returncode == 0, watched.stderr
    check = subprocess.run([verifier, "-c", "--strict", str(out / folder.name / manifest)], cwd=folder,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == 40
    assert_bounded(watched)


def test_the_bundle_holds_no_dask_and_no_test_packages_and_fits_the_size_goal(frozen: Path) -> None:
    from build import bundle_size
    from PyInstaller.archive.readers import CArchiveReader

    archive = CArchiveReader(str(frozen))
    modules = set(archive.open_embedded_archive("PYZ.pyz").toc)
    assert "batchmill.core.engine" in modules and "batchmill.gui.main_window" in modules  # the reader sees the real contents
    unwanted = ("dask", "distributed", "pytest", "_pytest", "pytestqt", "importlinter", "PyInstaller")
    assert sorted(m for m in modules if m.split(".")[0] in unwanted) == []
    folders = {p.name for p in (frozen.parent / "_internal").iterdir()}
    assert not folders & set(unwanted), folders & set(unwanted)
    size_mib = bundle_size(frozen.parent) / 2**20
    assert size_mib <= MAX_BUNDLE_MIB, f"the one-dir bundle is {size_mib:.0f} MiB"


def test_the_bundle_holds_every_module_of_the_package(frozen: Path, tmp_path: Path) -> None:
    """Modules imported only by name (the API behind ``batchmill.run``, processors) are in the bundle:
    the spec's hidden imports are collected from the package laid out as installed."""
    from build import lay_out_package
    from PyInstaller.archive.readers import CArchiveReader

    root = lay_out_package(tmp_path / "package-root")
    expected = {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
                for p in (root / "batchmill").rglob("*.py")}
    modules = set(CArchiveReader(str(frozen)).open_embedded_archive("PYZ.pyz").toc)
    assert {"batchmill.core.api", "batchmill.core.processors.function", "batchmill.core.backends.local"} <= expected
    assert sorted(expected - modules - {"batchmill.__main__"}) == []


def test_the_bundle_leaves_out_rasterio_and_says_where_raster_runs(frozen: Path, folder: Path, tmp_path: Path,
                                                                     env: dict[str, str]) -> None:
    """rasterio (GDAL and numpy) would take the bundle past its size goal: the raster processor is
    listed, and a job with it is refused naming the Python-environment install instead."""
    from PyInstaller.archive.readers import CArchiveReader

    modules = set(CArchiveReader(str(frozen)).open_embedded_archive("PYZ.pyz").toc)
    assert sorted(m for m in modules if m.split(".")[0] in ("rasterio", "rio_cogeo", "pyvips", "numpy")) == []
    done = subprocess.run([str(frozen), "run", "raster", str(folder), "--output", str(tmp_path / "out")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the raster processor needs rasterio: pip install 'batchmill[raster]' (the frozen bundle does not " \
           "carry it: install Batchmill into a Python environment with that extra instead)" in done.stderr


def test_user_script_the_bundle_has_never_seen(frozen: Path, folder: Path, tmp_path: Path,
                                               env: dict[str, str]) -> None:
    scripts = tmp_path / "my scripts"
    scripts.mkdir()
    (scripts / "shout_helpers.py").write_text("def shout(text: str) -> str:\n    return text.upper() + '!'\n")
    (scripts / "shout.py").write_text(
        "import hashlib\nfrom pathlib import Path\nfrom shout_helpers import shout\n"
        "PREFIX = '>> '\n"
        "def process(src: Path, dst: Path, times: int = 1) -> str:\n"
        "    dst.write_text(PREFIX + shout(src.read_text()) * times)\n"
        "    return hashlib.md5(src.read_bytes()).hexdigest()\n")
    out = tmp_path / "out"
    watched = run_watched([str(frozen), "run", "python", str(folder), "--output", str(out), "--workers",
                           str(WORKERS), "--param", f"script={scripts / 'shout.py'}", "--param", "times=2"], env=env)
    assert watched.returncode == 0, watched.stderr
    for src in folder.rglob("*.txt"):
        dst = out / folder.name / src.relative_to(folder)
        assert dst.read_text() == ">> " + (src.read_text().upper() + "!") * 2
    assert_bounded(watched)


def test_gui_start_exit_when_done(frozen: Path, folder: Path, tmp_path: Path, env: dict[str, str]) -> None:
    out = tmp_path / "out"
    watched = run_watched([str(frozen), "gui", str(folder), "--processor", "checksum", "--output", str(out),
                           "--start", "--exit-when-done"], env=env, timeout=180)
    assert watched.returncode == 0, watched.stderr
    manifest = out / folder.name / "SHA256SUMS"
    lines = manifest.read_text().splitlines()
    assert len(lines) == 40
    for line in lines:
        digest, rel = line.split("  ", 1)
        assert hashlib.sha256((folder / rel).read_bytes()).hexdigest() == digest
    assert not watched.left_behind, watched.left_behind
    from batchmill.core.spec import default_workers

    assert watched.max_processes <= default_workers() + 3, watched.max_processes  # the window's default workers


def test_selftest_from_the_bundle(frozen: Path, env: dict[str, str]) -> None:
    watched = run_watched([str(frozen), "selftest"], env=env)
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert "VERDICT: PASS" in watched.stdout
    assert "frozen: yes" in watched.stdout
    assert_bounded(watched)


def test_without_bootstrap_workers_rerun_the_app(frozen_without_bootstrap: Path, folder: Path, tmp_path: Path,
                                                 env: dict[str, str]) -> None:
    """Proves the bootstrap necessary: skip it and every worker re-enters the app's entry point
    (with --multiprocessing-fork arguments) instead of becoming a worker. The strict dispatcher
    makes each one fail loudly, and the engine gives up on the job instead of spawning for ever."""
    watched = run_watched([str(frozen_without_bootstrap), "run", "checksum", str(folder), "--output",
                           str(tmp_path / "out"), "--workers", str(WORKERS)], env=env, timeout=120)
    assert watched.returncode == 2, watched.stderr
    assert "refusing to start: this is a worker process (--multiprocessing-fork)" in watched.stderr
    assert "worker processes keep dying before they start on a file" in watched.stderr
    assert not (tmp_path / "out" / folder.name / "SHA256SUMS").exists()
    # More processes than a healthy run (each dead worker is replaced) — but bounded, and none left.
    assert len(watched.pids_seen) > MAX_PROCESSES - 1
    assert watched.max_processes <= MAX_PROCESSES + WORKERS
    assert not watched.left_behind, watched.left_behind
