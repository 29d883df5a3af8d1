"""A third-party plugin package, built and installed by pip from the README's own example (into a
folder of this test on PYTHONPATH, never into the test's environment): listed, run by name from
the command line and from the API; broken plugins refused with exit 2 and their names. And the
README's host-script example, run as its users would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import batchmill
from api_helpers import RUN_TIMEOUT_S, batchmill_cli, run_script, texts

README = Path(__file__).resolve().parents[2] / "README.md"
pytestmark = pytest.mark.timeout(300)

BROKEN_PYPROJECT = '''
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "batchmill-broken"
version = "1.0"

[project.entry-points."batchmill.processors"]
gone = "batchmill_no_such_module:Gone"
lazy = "batchmill_broken:NoTask"
misnamed = "batchmill_broken:Misnamed"
'''
BROKEN_MODULE = '''
from batchmill import Processor


class NoTask(Processor):
    name = "lazy"
    description = "Declares itself, but never says what to do with a file."


class Misnamed(Processor):
    name = "other-name"

    def task(self, params):
        return print
'''


def readme_block(first_line: str) -> str:
    """The README's fenced code block that starts with ``first_line``."""
    for block in re.findall(r"```\w*\n(.*?)```", README.read_text(), flags=re.S):
        if block.startswith(first_line + "\n"):
            return block
    raise AssertionError(f"README has no code block starting {first_line!r}")


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's plugin and a broken one, built and installed by pip into a folder of their own."""
    root = tmp_path_factory.mktemp("plugins")
    shout = root / "batchmill-shout"
    (shout / "batchmill_shout").mkdir(parents=True)
    (shout / "pyproject.toml").write_text(readme_block("# pyproject.toml"))
    (shout / "batchmill_shout" / "__init__.py").write_text(readme_block("# batchmill_shout/__init__.py"))
    broken = root / "batchmill-broken"
    (broken / "batchmill_broken").mkdir(parents=True)
    (broken / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (broken / "batchmill_broken" / "__init__.py").write_text(BROKEN_MODULE)
    site = root / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(shout),
         str(broken)], capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert (site / "batchmill_shout" / "__init__.py").is_file()
    return site


@pytest.fixture
def plugin_env(plugin_site: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(plugin_site),
                                                                      os.environ.get("PYTHONPATH")]))}


def test_the_plugin_is_listed(plugin_env: dict[str, str], tmp_path: Path) -> None:
    listed = batchmill_cli("processors", "--json", cwd=tmp_path, env=plugin_env)
    assert listed.returncode == 0, listed.stderr
    shout = [p for p in json.loads(listed.stdout) if p["name"] == "shout"]
    assert shout and shout[0]["params"] == [{"name": "suffix", "type": "str", "default": "!", "choices": [],
                                             "help": "appended to every output", "required": False}]
    names = {p["name"] for p in json.loads(listed.stdout)}
    assert not names & {"gone", "lazy", "misnamed", "other-name", "function"}
    for expected in ("processor plugin 'gone' (batchmill_no_such_module:Gone) could not be loaded: "
                     "ModuleNotFoundError: No module named 'batchmill_no_such_module'",
                     "processor plugin 'lazy' (batchmill_broken:NoTask) could not be loaded: it does not define "
                     "task(params)",
                     "processor plugin 'misnamed' (batchmill_broken:Misnamed) could not be loaded: its processor is "
                     "named 'other-name'; the entry point must have the same name"):
        assert f"warning: {expected}" in listed.stderr


def test_the_plugin_runs_by_name_from_the_command_line(plugin_env: dict[str, str], inputs: Path,
                                                      tmp_path: Path) -> None:
    ran = batchmill_cli("run", "shout", str(inputs), "--output", str(tmp_path / "out"), "--param", "suffix=?",
                        "--json", "-q", cwd=tmp_path, env=plugin_env)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["done"] == 12
    assert texts(tmp_path / "out" / "in") == {name: text.upper() + "?" for name, text in texts(inputs).items()}


def test_the_plugin_runs_by_name_from_the_api(plugin_site: Path, inputs: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(plugin_site))  # the workers get this process's sys.path

    result = batchmill.run("shout", inputs, tmp_path / "out", params={"suffix": "%"}, workers=2)

    assert result.ok
    assert texts(tmp_path / "out" / "in") == {name: text.upper() + "%" for name, text in texts(inputs).items()}
    assert result.values() == {inputs / name: len(text) for name, text in texts(inputs).items()}
    with pytest.raises(batchmill.JobError, match="processor plugin 'gone'"):
        batchmill.run("gone", inputs, tmp_path / "out2")


@pytest.mark.parametrize("name, reason", [
    ("gone", "No module named 'batchmill_no_such_module'"),
    ("lazy", "it does not define task(params)"),
    ("misnamed", "the entry point must have the same name"),
])
def test_a_broken_plugin_exits_2_with_its_name(name: str, reason: str, plugin_env: dict[str, str], inputs: Path,
                                              tmp_path: Path) -> None:
    ran = batchmill_cli("run", name, str(inputs), "--output", str(tmp_path / "out"), cwd=tmp_path, env=plugin_env)
    assert ran.returncode == 2
    assert f"processor plugin {name!r}" in ran.stderr and reason in ran.stderr
    assert "Traceback" not in ran.stderr
    assert not (tmp_path / "out").exists()


def test_an_unknown_name_lists_the_plugins_that_did_not_load(plugin_env: dict[str, str], inputs: Path,
                                                            tmp_path: Path) -> None:
    ran = batchmill_cli("run", "nothing", str(inputs), "--output", str(tmp_path / "out"), cwd=tmp_path,
                        env=plugin_env)
    assert ran.returncode == 2
    assert "unknown processor 'nothing'" in ran.stderr and "shout" in ran.stderr
    assert "(plugins that could not be loaded: gone, lazy, misnamed)" in ran.stderr


def test_the_readmes_host_script_example(tmp_path: Path, batchmill_home: Path) -> None:
    script = tmp_path / "clip_tool.py"
    script.write_text(readme_block("# clip_tool.py — a script tool: python clip_tool.py IN_FOLDER OUT_FOLDER MAX_LINES"))
    data = tmp_path / "tables"
    data.mkdir()
    for n in range(6):
        (data / f"t{n}.csv").write_text("".join(f"{n},{row}\n" for row in range(10)))
    (data / "notes.txt").write_text("not a table\n")

    ran = run_script(script, tmp_path, args=(str(data), str(tmp_path / "clipped"), "3"))

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[-1] == "6 of 6 files"
    assert texts(tmp_path / "clipped" / "tables") == {
        f"t{n}.csv": "".join(f"{n},{row}\n" for row in range(3)) for n in range(6)}
    listed = batchmill_cli("jobs", "--json", cwd=tmp_path)
    assert [(j["processor"], j["state"]) for j in json.loads(listed.stdout)] == [("function", "completed")]


def test_the_readme_documents_the_public_names() -> None:
    text = README.read_text()
    for name in ("batchmill.run(", "batchmill.submit(", "batchmill.resume(", "batchmill.retry(", "JobResult",
                 "Progress", "batchmill.JobError", "batchmill.BootstrapError", "BATCHMILL_PYTHON", "python="):
        assert name in text, name
    assert textwrap.dedent(readme_block("# batchmill_shout/__init__.py")).count("from batchmill import") == 1
