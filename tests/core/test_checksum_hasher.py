"""checksum's per-file task (FileHasher): digests, sizes, progress on big files, and errors that
name the file. Called in this process with a real ProcessorContext: the engine tests run it in
workers; here each case can be set up exactly."""

from __future__ import annotations

import hashlib
import os
import stat
import pickle
from pathlib import Path

import pytest

from batchmill.core.context import ProcessorContext
from batchmill.core.processors.checksum import ALGORITHMS, PROGRESS_FROM_BYTES, FileHasher
from batchmill.core.worker import describe_exception


def context_for(tmp_path: Path, sent: list[tuple[float | None, str]] | None = None) -> ProcessorContext:
    """A worker's context whose progress reports land in ``sent``."""
    reports = [] if sent is None else sent
    return ProcessorContext(1, tmp_path / "scratch", lambda fraction, message: reports.append((fraction, message)))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("size", [0, 1, 4096, 1 << 20])
def test_the_digest_and_size_are_those_of_the_whole_file(tmp_path: Path, algorithm: str, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "f.bin").write_bytes(data)
    context = context_for(tmp_path)

    digest = FileHasher(algorithm)(str(tmp_path / "f.bin"), None, context)

    assert digest == hashlib.new(algorithm, data).hexdigest()
    assert context.input_size == size


def test_a_big_file_is_hashed_in_chunks_with_progress(tmp_path: Path) -> None:
    data = os.urandom(PROGRESS_FROM_BYTES + 12345)
    (tmp_path / "big.bin").write_bytes(data)
    sent: list[tuple[float | None, str]] = []
    context = context_for(tmp_path, sent)

    digest = FileHasher("sha256")(tmp_path / "big.bin", None, context)

    assert digest == hashlib.sha256(data).hexdigest()
    assert context.input_size == len(data)
    fractions = [fraction for fraction, _message in sent]
    assert fractions and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert sent[-1][1] == f"{len(data) >> 20} of {len(data) >> 20} MiB"


@pytest.mark.parametrize("seen_size", [10, 5000])
def test_a_file_whose_size_changed_since_its_fstat_is_read_to_its_end(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seen_size: int) -> None:
    data = os.urandom(4096)
    (tmp_path / "f.bin").write_bytes(data)
    real_fstat = os.fstat

    class Grown:  # what fstat said before the file changed
        st_size = seen_size
        st_mode = stat.S_IFREG | 0o644

    monkeypatch.setattr(os, "fstat", lambda fd: Grown() if fd > 2 else real_fstat(fd))
    context = context_for(tmp_path)

    digest = FileHasher("sha256")(str(tmp_path / "f.bin"), None, context)

    assert digest == hashlib.sha256(data).hexdigest()
    assert context.input_size == len(data)


def test_a_folder_in_place_of_a_file_fails_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "was a file").mkdir()
    src = str(tmp_path / "was a file")

    with pytest.raises(OSError) as caught:
        FileHasher("sha256")(src, None, context_for(tmp_path))

    failure = describe_exception(caught.value, src, None, None)
    assert failure.message.startswith("cannot read input file: ")


def test_it_travels_by_reference_with_its_algorithm() -> None:
    data = pickle.dumps(FileHasher("md5"))
    assert b"batchmill.core.processors.checksum" in data and b"dill" not in data
    assert pickle.loads(data).algorithm == "md5"
