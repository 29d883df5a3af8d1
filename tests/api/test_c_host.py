"""A C program that embeds this Python, as ArcMap or QGIS do: its ``sys.executable`` is the host
binary, not an interpreter. It runs a tool script with no ``if __name__ == "__main__"`` guard
that calls ``batchmill.run`` with a lambda over a local variable. Every output is right, the
tool's body ran exactly once (the workers never re-ran it), the journal holds that one job,
and no process is left behind.

Needs a C compiler and this Python's headers and library (``python3.11-config --embed``);
CI installs them (packaging/install-system-deps.sh, the test-only line).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import uuid
from pathlib import Path

import psutil
import pytest

from batchmill.core.journal import Journal

pytestmark = pytest.mark.timeout(180)
LEFT_BEHIND_GRACE_S = 10.0

HOST_C = r'''
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdio.h>

/* usage: host SITE_DIR SCRIPT [ARGS...]
   Starts Python with this program as sys.executable, adds the host's own site folder (as a
   host's Python environment would), and runs SCRIPT as __main__ with sys.argv = SCRIPT ARGS. */
int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s SITE_DIR SCRIPT [ARGS...]\n", argv[0]);
        return 2;
    }
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.parse_argv = 0;
    PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, argv[0]);
    if (!PyStatus_Exception(status))
        status = PyConfig_SetBytesArgv(&config, argc - 2, argv + 2);
    if (!PyStatus_Exception(status))
        status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status))
        Py_ExitStatusException(status);

    PyObject *site = PyImport_ImportModule("site");
    PyObject *added = site ? PyObject_CallMethod(site, "addsitedir", "s", argv[1]) : NULL;
    if (added == NULL) {
        PyErr_Print();
        return 3;
    }
    Py_DECREF(added);
    Py_DECREF(site);

    FILE *script = fopen(argv[2], "rb");
    if (script == NULL) {
        perror(argv[2]);
        return 4;
    }
    int failed = PyRun_SimpleFileExFlags(script, argv[2], 1, NULL);
    if (Py_FinalizeEx() < 0)
        return 5;
    return failed ? 1 : 0;
}
'''

TOOL = '''
import json
import os
import sys
from multiprocessing import spawn

with open(os.environ["TOOL_RUNS"], "a") as runs:  # how often the tool's body runs, and by what
    runs.write(json.dumps([os.getpid(), sys.executable]) + "\\n")

import batchmill


def tool(in_folder, out_folder, times):
    stamp = f"<{times}x>"  # a local variable the lambda closes over
    result = batchmill.run(lambda src, dst: dst.write_text(src.read_text() * times + stamp),
                           in_folder, out_folder, workers=2)
    workers_python = spawn.get_executable()
    print(json.dumps({"state": result.state, "done": result.done, "failed": result.failed,
                      "errors": [f.error for f in result.failures], "job_id": result.job_id,
                      "workers_python": os.fsdecode(workers_python)}))


tool(sys.argv[1], sys.argv[2], int(sys.argv[3]))
'''


def python_config() -> Path:
    """The -config script of the Python this test runs on (pyenv's, or Debian's /usr/bin one)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    found = Path(sys.base_prefix) / "bin" / f"python{version}-config"
    assert found.is_file(), (f"{found} is missing: install this Python's development files "
                             f"(on Debian: apt-get install python3-dev)")
    return found


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("c-host")
    (folder / "host.c").write_text(HOST_C)
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    assert compiler, "no C compiler: on Debian, apt-get install gcc libc6-dev"
    config = str(python_config())
    flags = subprocess.run([config, "--cflags", "--embed"], capture_output=True, text=True, check=True).stdout.split()
    libs = subprocess.run([config, "--ldflags", "--embed"], capture_output=True, text=True, check=True).stdout.split()
    libdir = sysconfig.get_config_var("LIBDIR")
    binary = folder / "toolhost"
    built = subprocess.run([compiler, str(folder / "host.c"), "-o", str(binary), *flags, *libs,
                            f"-Wl,-rpath,{libdir}"], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    return binary


def marked_processes(marker: str) -> list[psutil.Process]:
    """Every process on the machine whose environment carries ``marker`` (the host's, inherited)."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("BATCHMILL_TEST_HOST") == marker:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def test_an_unguarded_tool_script_in_a_c_host(host: Path, tmp_path: Path, batchmill_home: Path) -> None:
    inputs = tmp_path / "in"
    (inputs / "deeper").mkdir(parents=True)
    expected = {}
    for n in range(16):
        name = f"deeper/{n:02d}.txt" if n % 5 == 0 else f"{n:02d}.txt"
        (inputs / name).write_text(f"row {n}\n")
        expected[name] = f"row {n}\n" * 3 + "<3x>"
    script = tmp_path / "tool.py"
    script.write_text(TOOL)
    runs = tmp_path / "tool-runs.txt"
    marker = uuid.uuid4().hex
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "BATCHMILL_PYTHON"))}
    env.update(BATCHMILL_HOME=str(batchmill_home), TOOL_RUNS=str(runs), BATCHMILL_TEST_HOST=marker)

    ran = subprocess.run([str(host), sysconfig.get_paths()["purelib"], str(script), str(inputs),
                          str(tmp_path / "out"), "3"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)

    assert ran.returncode == 0, ran.stdout + ran.stderr
    report = json.loads(ran.stdout.strip().splitlines()[-1])
    assert (report["state"], report["done"], report["failed"]) == ("completed", 16, 0), report["errors"]
    made = {str(p.relative_to(tmp_path / "out" / "in")): p.read_text()
            for p in (tmp_path / "out" / "in").rglob("*") if p.is_file()}
    assert made == expected
    body_runs = [json.loads(line) for line in runs.read_text().splitlines()]
    assert len(body_runs) == 1  # the host ran it; no worker ran it again
    assert body_runs[0][1] == str(host)  # sys.executable is the host program, not Python
    assert Path(report["workers_python"]).name.startswith("python")  # a real interpreter was found
    journal = Journal(batchmill_home)
    jobs = journal.list_jobs()
    journal.close()
    assert [(job.id, job.state.value, job.processor) for job in jobs] == [(report["job_id"], "completed", "function")]
    deadline = time.monotonic() + LEFT_BEHIND_GRACE_S
    while (left := marked_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, [" ".join(p.cmdline()) for p in left]
