"""Presets used from the CLI, a third-party processor installed with an entry point,
and the naming template on the command line — real `batchmill` subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from batchmill.core.presets import Preset, save_preset


def batchmill(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("batchmill")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "batchmill.gui.launcher"]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=timeout,
                          env=env or dict(os.environ))


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    data = tmp_path / "in"
    data.mkdir()
    for name in ("a.txt", "b.txt", "c.log"):
        (data / name).write_text(f"text of {name}\n")
    return data


@pytest.fixture
def upper_script(tmp_path: Path) -> Path:
    script = tmp_path / "upper.py"
    script.write_text("from pathlib import Path\n\n"
                      "def process(src: Path, dst: Path, times: int = 1) -> None:\n"
                      "    dst.write_text(src.read_text().upper() * times)\n")
    return script


def test_name_template_on_the_cli(inputs: Path, upper_script: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = batchmill("run", "python", str(inputs), "--output", str(out), "--param", f"script={upper_script}",
                     "--name", "{stem}_up{ext}", "--json")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (out / "in").iterdir()) == ["a_up.txt", "b_up.txt", "c_up.log"]
    assert (out / "in" / "a_up.txt").read_text() == "TEXT OF A.TXT\n"


def test_preset_saved_then_used_gives_the_same_result(inputs: Path, upper_script: Path, tmp_path: Path) -> None:
    first = tmp_path / "first"
    done = batchmill("run", "python", str(inputs), "--output", str(first), "--param", f"script={upper_script}",
                     "--param", "times=2", "--include", "*.txt", "--name", "{stem}_x{ext}", "--save-preset", "twice")
    assert done.returncode == 0, done.stderr
    again = tmp_path / "again"
    done = batchmill("run", "--preset", "twice", str(inputs), "--output", str(again), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["done"] == 2
    for path in (first / "in").iterdir():
        assert (again / "in" / path.name).read_text() == path.read_text() == \
            (inputs / path.name.replace("_x", "")).read_text().upper() * 2
    listed = batchmill("presets")
    assert listed.stdout.split() == ["twice"]


def test_preset_written_by_the_window_format_runs_on_the_cli(inputs: Path, tmp_path: Path) -> None:
    save_preset(Preset("sums", "checksum", {"algorithm": "md5"}, output=str(tmp_path / "sums")))
    done = batchmill("run", "--preset", "sums", str(inputs))
    assert done.returncode == 0, done.stderr
    manifest = tmp_path / "sums" / "in" / "MD5SUMS"
    check = subprocess.run(["md5sum", "-c", str(manifest)], cwd=inputs, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


def test_unknown_preset_exits_2(inputs: Path, tmp_path: Path) -> None:
    done = batchmill("run", "--preset", "nothing", str(inputs), "--output", str(tmp_path / "o"))
    assert done.returncode == 2
    assert "no preset named 'nothing'" in done.stderr


PLUGIN = textwrap.dedent('''
    """A third-party Batchmill processor, shipped as its own distribution."""
    import functools
    from pathlib import Path

    from batchmill.core.processors.base import Param, Processor


    def reverse_file(src, dst, context, *, repeat=1):
        Path(dst).write_bytes(Path(src).read_bytes()[::-1] * repeat)
        return len(Path(src).read_bytes())


    class ReverseProcessor(Processor):
        name = "reverse"
        description = "Reverse the bytes of every file (a plugin)."
        params = (Param("repeat", int, 1, help="how many copies", minimum=1),)

        def task(self, params):
            return functools.partial(reverse_file, repeat=params["repeat"])
''')


@pytest.fixture
def plugin_env(tmp_path: Path) -> dict[str, str]:
    """A distribution with an entry point in group batchmill.processors, installed into a
    site folder of its own (a *.dist-info with entry_points.txt is all importlib.metadata reads)."""
    site = tmp_path / "site"
    (site / "reverse_plugin").mkdir(parents=True)
    (site / "reverse_plugin" / "__init__.py").write_text(PLUGIN)
    info = site / "batchmill_reverse-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: batchmill-reverse\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[batchmill.processors]\nreverse = reverse_plugin:ReverseProcessor\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return env


def test_third_party_processor_appears_and_runs(plugin_env: dict[str, str], inputs: Path, tmp_path: Path) -> None:
    listed = batchmill("processors", "--json", env=plugin_env)
    assert listed.returncode == 0, listed.stderr
    reverse = [p for p in json.loads(listed.stdout) if p["name"] == "reverse"]
    assert reverse and reverse[0]["params"][0]["name"] == "repeat"
    out = tmp_path / "out"
    done = batchmill("run", "reverse", str(inputs), "--output", str(out), "--param", "repeat=2", "--json",
                     env=plugin_env)
    assert done.returncode == 0, done.stderr
    assert (out / "in" / "a.txt").read_bytes() == (inputs / "a.txt").read_bytes()[::-1] * 2


def test_broken_plugin_is_reported_not_fatal(plugin_env: dict[str, str], tmp_path: Path) -> None:
    site = Path(plugin_env["PYTHONPATH"].split(os.pathsep)[0])
    info = site / "batchmill_broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: batchmill-broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[batchmill.processors]\nbroken = no_such_module:Thing\n")
    listed = batchmill("processors", env=plugin_env)
    assert listed.returncode == 0
    assert "reverse" in listed.stdout and "checksum" in listed.stdout
    assert "processor plugin 'broken' (no_such_module:Thing) could not be loaded" in listed.stderr


def test_processors_for_a_script(tmp_path: Path) -> None:
    script = tmp_path / "tools.py"
    script.write_text('from pathlib import Path\n\ndef process(src: Path, dst: Path, size: int = 8) -> None:\n'
                      '    """Shrink.\n\n    Args:\n        size: target size\n    """\n')
    listed = batchmill("processors", "--script", str(script))
    assert listed.returncode == 0, listed.stderr
    assert "tools.process" in listed.stdout and "--param size=<int>  (default 8)  target size" in listed.stdout
