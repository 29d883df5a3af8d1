#!/bin/sh
# System packages Batchmill needs on Debian/Ubuntu (uses sudo only when not already root).
#
#   sh packaging/install-system-deps.sh          to run Batchmill: python3-venv (a stock Debian or
#                                                Ubuntu cannot make the README's venv without it) and
#                                                what Qt's window needs: GL/EGL, fontconfig, D-Bus,
#                                                xkbcommon, and every XCB library Qt 6.5+'s X11 plugin
#                                                links (tests/packaging/test_system_deps.py checks the
#                                                list against the plugin, ldd and QT_DEBUG_PLUGINS=1)
#   sh packaging/install-system-deps.sh --test   also what only the tests and benchmarks use: binutils
#                                                for PyInstaller, a C compiler and Python's headers for
#                                                the embedding test, Xvfb for the window on a real X
#                                                server, zsh for the completion test, GDAL's tools as
#                                                the raster processor's reference (tests/core/test_raster.py),
#                                                GNU parallel and procps for the benchmarks and process checks,
#                                                vipsthumbnail (libvips-tools) as the image benchmark's peer
#
# Another apt (unattended-upgrades on a fresh machine) may hold the package lock: this waits for
# it, up to 5 minutes, instead of failing at once.
set -eu
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
APT_GET="$SUDO apt-get -o DPkg::Lock::Timeout=300"

# apt-get update takes the lists lock, which DPkg::Lock::Timeout does not cover in every apt:
# a few tries, a while apart.
tries=0
until $APT_GET update -q; do
    tries=$((tries + 1))
    if [ "$tries" -ge 10 ]; then echo "apt-get update kept failing" >&2; exit 1; fi
    echo "apt-get update failed (another apt running?); trying again in 30 s" >&2
    sleep 30
done

$APT_GET install -y -q --no-install-recommends \
    python3-venv \
    libgl1 libegl1 libfontconfig1 libfreetype6 libdbus-1-3 libglib2.0-0 fonts-dejavu-core \
    libxkbcommon0 libxkbcommon-x11-0 libx11-6 libx11-xcb1 \
    libxcb1 libxcb-cursor0 libxcb-glx0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 \
    libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1 \
    libxcb-xfixes0 libxcb-xinerama0 libxcb-xinput0 libxcb-xkb1

if [ "${1:-}" = "--test" ]; then
    $APT_GET install -y -q --no-install-recommends \
        binutils gcc libc6-dev python3-dev \
        xvfb xauth zsh gdal-bin \
        parallel procps util-linux coreutils libvips-tools
fi
