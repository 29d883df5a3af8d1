"""From Python: ``provenance="sidecar"`` (run() writes a sidecar beside each output of a closure,
preview() names them) and ``preview(estimate="sample")`` (a few files timed where there is no history)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import batchmill

pytestmark = pytest.mark.timeout(120)


def test_run_and_preview_with_sidecars(inputs: Path, tmp_path: Path) -> None:
    suffix = "!"

    def shout(src: Path, dst: Path) -> None:
        dst.write_text(src.read_text().upper() + suffix)

    out = tmp_path / "out"
    planned = list(batchmill.preview(shout, inputs, out, provenance="sidecar"))
    assert len(planned) == 12 and all(v.sidecar == f"{v.output}.provenance.json" for v in planned)
    assert not out.exists()

    result = batchmill.run(shout, inputs, out, workers=2, provenance="sidecar")

    assert result.ok, result.failures
    sidecars = sorted(out.rglob("*.provenance.json"))
    assert len(sidecars) == 12
    first = json.loads(sidecars[0].read_text())
    assert first["processor"]["name"] == "function" and first["batchmill"]["job_id"] == result.job_id
    assert first["input"]["path"].startswith(str(inputs)) and first["output"]["size"] > 0
    again = batchmill.run(shout, out / "in", tmp_path / "again", workers=2)  # outputs as inputs: not sidecars
    assert again.total == 12


def test_an_unknown_provenance_mode_is_refused(inputs: Path, tmp_path: Path) -> None:
    with pytest.raises(batchmill.JobError, match="provenance must be one of journal, sidecar"):
        batchmill.run(lambda s, d: None, inputs, tmp_path / "out", provenance="both")  # type: ignore[arg-type]


def test_preview_estimate_sample_times_a_few_files_of_a_closure(inputs: Path, tmp_path: Path) -> None:
    seen = tmp_path / "seen.log"

    def note(src: Path, dst: Path) -> None:
        with open(seen, "a") as handle:
            handle.write(src.name + "\n")
        dst.write_text(src.read_text())

    plain = batchmill.preview(note, inputs, tmp_path / "out")
    assert plain.estimate_s is None and plain.estimate_basis is None and not seen.exists()

    sampled = batchmill.preview(note, inputs, tmp_path / "out", estimate="sample", workers=2)
    seconds = sampled.estimate_s

    assert seconds is not None and seconds > 0 and sampled.estimate_basis == "sample"
    assert len(seen.read_text().split()) == 4  # a warm-up and three timed
    assert not (tmp_path / "out").exists()
