#!/bin/sh
# System libraries Batchmill's window and tests need on Debian/Ubuntu: Qt's GL/EGL, xkbcommon,
# fontconfig and D-Bus client libraries, and the two XCB libraries Qt's X11 plugin needs that
# a minimal system lacks; binutils for PyInstaller; GNU parallel and procps for the benchmarks
# and process checks (and, on its own line below, what only the tests need). Uses sudo only when not
# already root.
set -eu
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
    libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libglib2.0-0 \
    libxcb-icccm4 libxcb-keysyms1 \
    fonts-dejavu-core binutils parallel procps util-linux coreutils
# Test-only: a C compiler and Python's headers and library, for the test that embeds Python in a
# small C program as a host application does (tests/api/test_c_host.py, python3.11-config --embed).
$SUDO apt-get install -y -q --no-install-recommends gcc libc6-dev python3-dev
# Test-only: GDAL's command-line tools, the reference the raster processor is checked against
# (tests/core/test_raster.py: gdalwarp, gdalinfo).
$SUDO apt-get install -y -q --no-install-recommends gdal-bin
