"""Processors travel to the workers with dill, by value where they are not importable: lambdas,
closures, and functions from a user's script that no worker could import. What cannot travel
is named before the job starts."""

from __future__ import annotations

import pickle
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import targets
from batchmill.core.engine import Engine, JobError
from batchmill.core.events import FailureKind
from batchmill.core.processors import get_processor
from batchmill.core.spec import JobSpec
from engine_driver import START_METHODS, assert_one_failure, assert_outputs, make_inputs, prepare_start_method, run_job

pytestmark = pytest.mark.timeout(60)

SCRIPT = '''\
"""A user's script: its file name is no module name, and it leans on its own globals."""
import my_helpers  # a helper module sitting next to the script

GREETING = b"from the script: "


class ScriptError(Exception):
    pass


def _decorate(data: bytes) -> bytes:
    return GREETING + my_helpers.shout(data)


def process(src, dst, times: int = 1):
    if src.name.startswith("bad"):
        raise ScriptError(f"refusing {src.name}")
    dst.write_bytes(_decorate(src.read_bytes()) * times)
    return {"bytes": src.stat().st_size}
'''

HELPERS = '''\
def shout(data: bytes) -> bytes:
    return data.upper()
'''

UNSHIPPABLE_SCRIPT = '''\
import sqlite3

CONNECTION = sqlite3.connect(":memory:")


def process(src, dst):
    CONNECTION.execute("SELECT 1")
'''


@pytest.fixture(autouse=True)
def test_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    targets.register(monkeypatch)


@pytest.fixture(scope="module", params=START_METHODS)
def start_method(request: pytest.FixtureRequest) -> str:
    return prepare_start_method(request.param)


@pytest.fixture
def engine(start_method: str, batchmill_home: Path) -> Iterator[Engine]:
    with Engine(batchmill_home, start_method=start_method) as engine:
        yield engine


def folder_spec(tmp_path: Path, processor: str, params: dict[str, str] | None = None) -> JobSpec:
    return JobSpec(processor, (str(tmp_path / "in"),), str(tmp_path / "out"), params=params or {}, workers=2)


def test_a_lambda_is_shipped_with_dill(engine: Engine, tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in", good=6)
    bad = tmp_path / "in" / "bad.txt"
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(get_processor("test-lambda").task({}))  # plain pickle could not ship it

    run = run_job(engine, folder_spec(tmp_path, "test-lambda"))

    assert_one_failure(engine, run, bad, FailureKind.PROCESSOR_ERROR, "processor raised ZeroDivisionError")
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", {bad}, transform=lambda data: data[::-1])


def test_a_closure_is_shipped_with_dill(engine: Engine, tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in", good=6)
    bad = tmp_path / "in" / "bad.txt"
    processor = get_processor("test-closure")
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(processor.task(processor.validate({"prefix": "##"})))

    run = run_job(engine, folder_spec(tmp_path, "test-closure", {"prefix": "##"}))

    assert_one_failure(engine, run, bad, FailureKind.PROCESSOR_ERROR, "processor raised LookupError: ## refuses bad.txt")
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", {bad}, transform=lambda data: b"##" + data)


@pytest.fixture
def forget_helpers() -> Iterator[None]:
    """Loading the script imports its helper module into this process too; keep tests independent."""
    sys.modules.pop("my_helpers", None)
    yield
    sys.modules.pop("my_helpers", None)


@pytest.mark.usefixtures("forget_helpers")
def test_a_function_from_a_script_no_worker_can_import(engine: Engine, tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in", good=6)
    bad = tmp_path / "in" / "bad.txt"
    scripts = tmp_path / "user scripts"
    scripts.mkdir()
    script = scripts / "my-script v2.py"  # not a valid module name: nobody can import it
    script.write_text(SCRIPT)
    (scripts / "my_helpers.py").write_text(HELPERS)
    path_before = list(sys.path)

    run = run_job(engine, folder_spec(tmp_path, "python", {"script": str(script), "times": "2"}))

    assert sys.path == path_before  # the script's folder was on it only while the script loaded
    failure = assert_one_failure(engine, run, bad, FailureKind.PROCESSOR_ERROR,
                                 "processor raised ScriptError: refusing bad.txt")
    assert "my-script v2.py" in failure.traceback
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", {bad},
                   transform=lambda data: (b"from the script: " + data.upper()) * 2)
    results = {Path(r.input).name: r.result for r in engine.journal.files(run.job_id) if r.result is not None}
    assert results == {src.name: {"bytes": len(data)} for src, data in inputs.items() if src != bad}


def test_preflight_names_an_unpicklable_closure_variable(engine: Engine, tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", good=2)

    with pytest.raises(JobError) as caught:
        engine.submit(folder_spec(tmp_path, "test-unshippable"))

    message = str(caught.value)
    assert message.startswith("processor 'test-unshippable' cannot be sent to the worker processes")
    assert "the variable 'numbers' = <generator object" in message
    assert engine.journal.list_jobs() == [] and not (tmp_path / "out").exists()


def test_preflight_names_an_unpicklable_global_of_a_script(engine: Engine, tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", good=2)
    script = tmp_path / "uses_a_connection.py"
    script.write_text(UNSHIPPABLE_SCRIPT)

    with pytest.raises(JobError) as caught:
        engine.submit(folder_spec(tmp_path, "python", {"script": str(script)}))

    message = str(caught.value)
    assert message.startswith(f"function 'process' of {script} cannot be sent to the worker processes")
    assert "the global 'CONNECTION' = <sqlite3.Connection" in message
    assert engine.journal.list_jobs() == [] and not (tmp_path / "out").exists()
