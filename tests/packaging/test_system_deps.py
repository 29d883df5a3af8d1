"""packaging/install-system-deps.sh: python3-venv and every library Qt's X11 plugin links in the
"run it" set, benchmark and test tools only with --test, an apt lock waited for; the README's
run command does not install test tools, and CI runs the README's test command."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "packaging" / "install-system-deps.sh"


def package_lists() -> tuple[set[str], set[str]]:
    """(packages always installed, packages installed only with --test)."""
    text = SCRIPT.read_text()
    always, test_only = text.split('if [ "${1:-}" = "--test" ]; then', 1)

    def packages(part: str) -> set[str]:
        found: set[str] = set()
        for command in re.findall(r"install -y -q --no-install-recommends((?:[^\n]*\\\n)*[^\n]*)", part):
            found.update(word for word in command.replace("\\", " ").split() if not word.startswith("-"))
        return found

    return packages(always), packages(test_only)


def debian_package(soname: str) -> str:
    """Debian's name for the package of a shared library: libxcb-icccm.so.4 -> libxcb-icccm4,
    libxkbcommon-x11.so.0 -> libxkbcommon-x11-0 (a name ending in a digit takes a dash)."""
    name, _, version = soname.partition(".so.")
    version = version.split(".")[0]
    return (f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}").lower()


def test_the_script_is_valid_sh_and_waits_for_the_apt_lock() -> None:
    assert subprocess.run(["sh", "-n", str(SCRIPT)]).returncode == 0
    text = SCRIPT.read_text()
    assert "DPkg::Lock::Timeout=300" in text
    assert not re.search(r"^\s*(\$SUDO )?apt-get ", text, re.M)  # every apt-get goes through $APT_GET


def test_run_packages_and_test_only_packages() -> None:
    always, test_only = package_lists()
    assert {"python3-venv", "libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1"} <= always
    assert {"parallel", "procps", "binutils", "gcc", "python3-dev", "xvfb", "zsh", "gdal-bin"} <= test_only
    assert not always & {"parallel", "procps", "binutils", "gcc", "python3-dev", "xvfb", "zsh"}


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("ldd") is None, reason="ELF and ldd")
def test_every_x11_library_qts_xcb_plugin_links_is_installed_by_the_script() -> None:
    import PySide6

    qt = Path(PySide6.__file__).parent / "Qt"
    plugins = [qt / "plugins" / "platforms" / "libqxcb.so", *sorted((qt / "plugins" / "xcbglintegrations").glob("*.so"))]
    needed: set[str] = set()
    for plugin in plugins:
        listing = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, check=True).stdout
        needed.update(re.findall(r"^\s*((?:libxcb|libX11|libxkbcommon)[\w.-]*\.so\.\d+)", listing, re.M))
    assert "libxcb-cursor.so.0" in needed  # what Qt 6.5+ added, and a minimal system lacks
    always, _ = package_lists()
    missing = sorted(debian_package(soname) for soname in needed if debian_package(soname) not in always)
    assert not missing, f"install-system-deps.sh does not install {missing}, which Qt's X11 plugin links"


def test_the_readme_run_command_installs_no_test_tools_and_ci_runs_the_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    commands = re.findall(r"^sh packaging/install-system-deps\.sh.*$", readme, re.M)
    assert len(commands) == 2, commands
    run, test = commands
    assert "--test" not in run and "batchmill" in run
    assert test.startswith("sh packaging/install-system-deps.sh --test && ") and "pytest" in test
    assert test in (REPO / ".ci" / "run").read_text()
