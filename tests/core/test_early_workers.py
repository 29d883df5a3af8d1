"""Workers started before the engine exists (batchmill.core.early, used by ``batchmill run``) are
the ones the engine's pool runs the job on; ones nobody takes are stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import targets
from batchmill.core import early
from batchmill.core.engine import Engine
from batchmill.core.events import JobState
from batchmill.core.spec import JobSpec
from engine_driver import iter_results, make_inputs, run_job

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def fresh_early_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    targets.register(monkeypatch)
    monkeypatch.setattr(early, "_scratch_root", None)
    monkeypatch.setattr(early, "_handed_over", False)
    monkeypatch.setattr(early, "_waiting", {})
    yield
    early.stop_unused()


def test_the_engine_runs_the_job_on_the_workers_started_early(tmp_path: Path, batchmill_home: Path) -> None:
    early.start_workers(2)
    pids = {process.pid for _method, process, _conn, _slot in early._waiting.values()}
    make_inputs(tmp_path / "in", good=6, bad=())
    spec = JobSpec("test-target", (str(tmp_path / "in"),), str(tmp_path / "out"), workers=2,
                   params={"target": "copy_upper", "delay": 0.05})
    with Engine(batchmill_home) as engine:
        run = run_job(engine, spec)
        assert run.finished.state is JobState.COMPLETED, run.finished
        assert {pid for _src, pid in iter_results(engine, run.job_id)} <= pids
        assert early._waiting == {}


def test_early_workers_nobody_takes_are_stopped() -> None:
    early.start_workers(2)
    processes = [process for _method, process, _conn, _slot in early._waiting.values()]
    early.stop_unused()
    assert [p.exitcode is not None for p in processes] == [True, True]


@pytest.mark.parametrize(("argv", "count"), [
    (["checksum", "in", "--output", "out"], early.default_workers()),
    (["checksum", "in", "-o", "out", "--workers", "3"], 3),
    (["checksum", "in", "--workers=4", "-o", "out"], 4),
    (["checksum", "-j2", "in"], 2),
    (["checksum", "-j", "5", "in"], 5),
    (["checksum", "in", "--work", "6"], 6),  # argparse takes a prefix of an option
    (["python", "in", "-p", "script=s.py", "-pname=x", "--param", "h=1"], early.default_workers()),
    (["checksum", "in", "--preset", "mine"], None),  # a preset may set the workers
    (["checksum", "in", "--pre", "mine"], None),
    (["checksum", "in", "--dry-run"], None),
    (["checksum", "in", "-0n"], None),
    (["checksum", "in", "-h"], None),
    (["checksum", "in", "--scheduler", "tcp://h:8786"], None),
    (["checksum", "in", "--backend", "dask"], None),
    (["checksum", "in", "--workers", "many"], None),  # argparse's error to give, no workers for it
    (["python", "in", "-o", "out", "--", "--dry-run"], early.default_workers()),
])
def test_the_worker_count_is_read_from_a_run_command_line_when_it_can_be(argv: list[str], count: int | None) -> None:
    assert early.workers_for_command_line(argv) == count
