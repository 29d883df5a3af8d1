"""An up-to-date check reads what the last jobs logged (output_log) as it is, without folding it
into the outputs table first (the fold cost the run after a 200,000-file job most of its time);
past a bound it folds, as before. The verdicts are the same either way, the latest record wins,
and a logged record wins over the table's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from batchmill.core import freshness
from batchmill.core.freshness import Freshness
from batchmill.core.journal import Journal
from batchmill.core.processors.base import RootOutput
from batchmill.core.provenance import ProvenanceStore, Recipe, target_for

RECIPE = Recipe("checksum", "1", '{"algorithm": "sha256"}', "code")


def logged_record(root: RootOutput, src: Path, digest: str, size: int | None = None) -> list[object]:
    st = src.stat()
    return [target_for(root, str(src), None), None, str(src), st.st_size if size is None else size,
            st.st_mtime_ns, None, None, None, digest, 1.0, "no output yet"]


def set_up(tmp_path: Path) -> tuple[Journal, ProvenanceStore, RootOutput, list[Path]]:
    folder = tmp_path / "in"
    folder.mkdir()
    files = []
    for name in ("a.bin", "b.bin", "c.bin", "\udcff-not-utf8.bin"):
        path = folder / name
        path.write_bytes(os.urandom(64))
        files.append(path)
    journal = Journal(tmp_path / "home")
    store = ProvenanceStore(journal)
    store.save_recipe("job1", RECIPE)
    return journal, store, RootOutput(0, folder, True, tmp_path / "out" / "in"), files


def log_rows(journal: Journal) -> int:
    return int(journal.read("SELECT count(*) FROM output_log")[0][0])


def test_the_check_reads_the_log_without_folding_it_and_the_latest_record_wins(tmp_path: Path) -> None:
    journal, store, root, files = set_up(tmp_path)
    store.append("job1", [logged_record(root, f, f"old{i}", size=1) for i, f in enumerate(files)])
    store.append("job1", [logged_record(root, f, f"d{i}") for i, f in enumerate(files[:3])])
    check = Freshness(ProvenanceStore(journal), RECIPE, [root], False)
    check.prefetch((0, str(f), None) for f in files)

    verdicts = [check.check(0, str(f), None) for f in files]

    assert [v.up_to_date for v in verdicts] == [True, True, True, False]
    assert [v.result for v in verdicts[:3]] == ["d0", "d1", "d2"]
    assert "size 1 -> 64 bytes" in verdicts[3].reason
    assert log_rows(journal) == 2  # not folded by the check
    assert ProvenanceStore(journal).get(target_for(root, str(files[0]), None)).result == "d0"  # a reader folds
    assert log_rows(journal) == 0


def test_a_logged_record_wins_over_the_tables_and_past_the_bound_the_log_is_folded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal, store, root, files = set_up(tmp_path)
    store.append("job1", [logged_record(root, f, f"old{i}", size=1) for i, f in enumerate(files)])
    store.fold()
    store.append("job1", [logged_record(root, files[0], "new0")])
    check = Freshness(ProvenanceStore(journal), RECIPE, [root], False)

    assert check.check(0, str(files[0]), None).result == "new0"  # no prefetch: one file asked for
    assert not check.check(0, str(files[1]), None).up_to_date  # the table's record (size 1)
    assert log_rows(journal) == 1

    monkeypatch.setattr(freshness, "LOGGED_READ", 0)
    bounded = Freshness(ProvenanceStore(journal), RECIPE, [root], False)
    bounded.prefetch([(0, str(files[0]), None)])
    fresh = bounded.check(0, str(files[0]), None)
    assert fresh.up_to_date and fresh.result == "new0" and fresh.record is not None
    assert log_rows(journal) == 0  # folded, as before


def test_records_logged_by_two_jobs_each_keep_their_jobs_recipe(tmp_path: Path) -> None:
    journal, store, root, files = set_up(tmp_path)
    other = Recipe("checksum", "1", '{"algorithm": "md5"}', "code")
    store.save_recipe("job2", other)
    store.append("job1", [logged_record(root, f, f"d{i}") for i, f in enumerate(files[:3])])
    store.append("job2", [logged_record(root, files[1], "md5 of b")])
    store.append("job1", [logged_record(root, files[2], "d2 again")])
    check = Freshness(ProvenanceStore(journal), RECIPE, [root], False)

    a, b, c = check.check_all([(0, str(f), None) for f in files[:3]])

    assert a.up_to_date and a.record is not None and a.record.job_id == "job1"
    assert not b.up_to_date and "algorithm" in b.reason and b.record is not None and b.record.job_id == "job2"
    assert c.up_to_date and c.result == "d2 again"


def test_records_of_jobs_with_another_output_folder_are_not_even_decoded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from batchmill.core import provenance
    from batchmill.core.spec import JobSpec

    journal, store, root, files = set_up(tmp_path)
    elsewhere = RootOutput(0, root.input, True, tmp_path / "other-out" / "in")
    for job_id, out in (("job1", root.output.parent), ("job2", elsewhere.output.parent)):
        journal.create_job(job_id, JobSpec("checksum", (str(root.input),), str(out)), "checksum", None, None, [True])
    store.save_recipe("job2", RECIPE)
    store.append("job1", [logged_record(root, f, f"d{i}") for i, f in enumerate(files)])
    store.append("job2", [logged_record(elsewhere, f, f"e{i}") for i, f in enumerate(files)] * 50)
    decoded: list[int] = []
    loads = provenance.json.loads
    monkeypatch.setattr(provenance.json, "loads", lambda text, **kw: decoded.append(len(text)) or loads(text, **kw))

    verdicts = Freshness(ProvenanceStore(journal), RECIPE, [root], False).check_all([(0, str(f), None) for f in files])

    assert [v.result for v in verdicts] == ["d0", "d1", "d2", "d3"]
    assert len(decoded) == 1  # job1's row; job2's, writing elsewhere, was passed over
    other = Freshness(ProvenanceStore(journal), RECIPE, [elsewhere], False).check_all([(0, str(files[0]), None)])
    assert other[0].result == "e0"
