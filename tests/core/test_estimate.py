"""The estimate before start: fitted from the journal's history of the same processor."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchmill.core.estimate import STARTUP_S, cost_model, estimate
from batchmill.core.journal import Journal
from batchmill.core.spec import JobSpec


def journal_with_history(home: Path, identity: str, files: list[tuple[float, int]]) -> Journal:
    journal = Journal(home)
    spec = JobSpec("python", (str(home),), str(home / "out"))
    journal.create_job("job1", spec, identity, None, None, [True])
    journal.add_files("job1", [(i, 0, f"/in/{i}", f"/out/{i}", "pending", size) for i, (_, size) in enumerate(files)])
    journal.record_files("job1", [(i, 1, round(seconds * 1e6), size, None) for i, (seconds, size) in enumerate(files)],
                         [], (len(files), len(files), 0, 0), 1.0)
    return journal


def test_the_cost_of_a_file_is_fitted_per_file_and_per_byte(tmp_path: Path) -> None:
    history = [(0.010 + 2e-6 * size, size) for size in (1000, 5000, 20000, 80000)] * 5
    journal = journal_with_history(tmp_path / "home", "python:/tools/a.py:process", history)
    try:
        model = cost_model(journal, "python", "python:/tools/a.py:process")
    finally:
        journal.close()

    assert model is not None and model.files == 20 and model.jobs == 1
    assert model.per_file_s == pytest.approx(0.010, rel=1e-3)
    assert model.per_byte_s == pytest.approx(2e-6, rel=1e-3)
    guess = estimate(model, 100, 100 * 10_000, 4)
    assert guess is not None
    assert guess.seconds == pytest.approx(STARTUP_S + (100 * 0.010 + 100 * 10_000 * 2e-6) / 4, rel=1e-3)
    assert "100 files on 4 workers" in guess.line() and "10.00 ms a file" in guess.line()


def test_without_the_same_script_the_processor_s_history_counts(tmp_path: Path) -> None:
    journal = journal_with_history(tmp_path / "home", "python:/tools/a.py:process", [(0.5, 10)] * 3)
    try:
        other = cost_model(journal, "python", "python:/tools/b.py:process")
        none = cost_model(journal, "image", "image")
    finally:
        journal.close()

    assert other is not None and other.per_file_s == pytest.approx(0.5) and other.per_byte_s == 0
    assert none is None and estimate(none, 10, 100, 2) is None


def test_the_line_counts_in_words_that_agree_with_their_numbers(tmp_path: Path) -> None:
    """'1 workers', '1 files', 'earlier job(s)': a line an operator reads before Start."""
    journal = journal_with_history(tmp_path / "home", "python:/tools/a.py:process", [(0.5, 10)])
    try:
        model = cost_model(journal, "python", "python:/tools/a.py:process")
    finally:
        journal.close()
    assert model is not None
    one = estimate(model, 1, 10, 1)
    many = estimate(model, 3, 30, 2)
    assert one is not None and many is not None

    assert "for 1 file on 1 worker (from 1 earlier job of " in one.line(), one.line()
    assert "process, 1 file:" in one.line(), one.line()
    assert "for 3 files on 2 workers (from 1 earlier job of " in many.line(), many.line()
