"""Shell completion generated from the parser (shtab), loaded by real shells: bash's ``complete -p``
and a completion asked for, zsh's ``compinit`` where zsh is installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from batchmill.core.cli import COMPLETION_SHELLS
from batchmill.core.completion import SHELLS

BATCHMILL = [sys.executable, "-m", "batchmill.gui.launcher"]


def script(shell: str, tmp_path: Path) -> Path:
    made = subprocess.run([*BATCHMILL, "completion", shell], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    path = tmp_path / f"batchmill.{shell}"
    path.write_text(made.stdout)
    return path


def test_the_cli_offers_the_shells_shtab_makes() -> None:
    assert set(COMPLETION_SHELLS) == set(SHELLS)


def bash_complete(loaded: Path, words: str, cwd: Path) -> list[str]:
    line = f"batchmill {words}"
    probe = (f"source {loaded}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; "
             f"COMP_WORDS=({line}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - {0 if words.endswith(' ') else 1} )); "
             + ("COMP_WORDS+=(''); " if words.endswith(" ") else "")
             + "_shtab_batchmill; printf '%s\\n' \"${COMPREPLY[@]}\"")
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return sorted(filter(None, done.stdout.splitlines()))


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_loads_it_and_completes_commands_options_and_folders(tmp_path: Path) -> None:
    loaded = script("bash", tmp_path)
    shown = subprocess.run(["bash", "-c", f"source {loaded} && complete -p batchmill"], capture_output=True,
                           text=True, timeout=30)
    assert shown.returncode == 0, shown.stderr
    assert "_shtab_batchmill" in shown.stdout and shown.stdout.rstrip().endswith("batchmill")

    assert bash_complete(loaded, "pro", tmp_path) == ["processors"]
    assert {"prune", "forget"} <= set(bash_complete(loaded, "jobs ", tmp_path))
    assert {"--files-from", "--ignore-case", "--verbose", "--max-files-per-worker"} <= set(
        bash_complete(loaded, "run checksum --", tmp_path))
    (tmp_path / "survey-2026").mkdir()
    assert "survey-2026" in "".join(bash_complete(loaded, "run checksum x --output sur", tmp_path))


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_compinit_loads_it(tmp_path: Path) -> None:
    functions = tmp_path / "zfunc"
    functions.mkdir()
    script("zsh", tmp_path).rename(functions / "_batchmill")
    probe = (f"fpath=({functions} $fpath); autoload -U compinit; compinit -u -d {tmp_path}/zcompdump; "
             "print -r -- ${_comps[batchmill]}; autoload -Uz +X _batchmill && print loaded")
    done = subprocess.run(["zsh", "-f", "-c", probe], capture_output=True, text=True, timeout=60,
                          env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["_batchmill", "loaded"], done.stdout + done.stderr


def test_a_shell_it_does_not_know_exits_2_naming_the_choices() -> None:
    done = subprocess.run([*BATCHMILL, "completion", "cmd.exe"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "invalid choice: 'cmd.exe'" in done.stderr and "bash" in done.stderr
